//! Client ID Metadata Documents: the first line is the URL the document was fetched from, the
//! rest is the document.
#![no_main]
use gatehouse_registration::{
    ClientIdMetadataDocument, ClientMetadataPolicy, validate_client_id_url,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let (url, body) = match input.iter().position(|&b| b == b'\n') {
        Some(newline) => input.split_at(newline),
        None => (input, &[][..]),
    };
    let Ok(url) = std::str::from_utf8(url) else {
        return;
    };
    let _ = validate_client_id_url(url);
    if let Ok(document) = ClientIdMetadataDocument::from_json(body.get(1..).unwrap_or_default()) {
        let _ = document.validate(url);
        let _ = ClientMetadataPolicy::new().check_metadata_document(&document, url);
    }
});
