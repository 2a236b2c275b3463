//! A rule the metadata documents of RFC 8414 (authorization server) and RFC 9728 (protected
//! resource) share, kept here so both crates apply it the same way.

/// Whether a list of JWS algorithm names (a `*_signing_alg_values_supported` member) includes
/// `none`, in any letter case.
///
/// [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2) and
/// [RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2): "The value "none" MUST NOT
/// be used". Algorithm names are case-sensitive, so `NONE` is strictly another name; it is caught
/// too, because case-insensitive handling of `none` has fooled JWT libraries before. An absent
/// member lists nothing.
///
/// ```
/// use gatehouse_types::metadata::lists_none_algorithm;
///
/// let algs = Some(vec!["ES256".to_owned(), "nOnE".to_owned()]);
/// assert!(lists_none_algorithm(algs.as_deref()));
/// assert!(!lists_none_algorithm(None::<&[String]>));
/// ```
pub fn lists_none_algorithm<S: AsRef<str>>(algs: Option<&[S]>) -> bool {
    algs.into_iter()
        .flatten()
        .any(|alg| alg.as_ref().eq_ignore_ascii_case("none"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_section_2_none_is_found_in_any_case() {
        for none in ["none", "NONE", "None"] {
            assert!(lists_none_algorithm(Some(&["RS256", none][..])), "{none}");
        }
        assert!(!lists_none_algorithm(Some(
            &["RS256", "ES256", "nonce"][..]
        )));
        assert!(!lists_none_algorithm(Some(&[] as &[&str])));
        assert!(!lists_none_algorithm(None::<&[&str]>));
    }
}
