//! The constant signing keys of the fuzz targets, as private JWKs: published test keys, so that
//! an input always replays the same run and no target pays for generating a key per input.
#![allow(
    dead_code,
    reason = "each target includes this module and uses the keys it needs"
)]

/// RFC 7515 Appendix A.3: the P-256 key (ES256, the server's default algorithm).
pub const P256: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;

/// RFC 8037 Appendix A.1: the Ed25519 key (EdDSA). Under coverage instrumentation its signatures
/// cost a fraction of P-256's (`perf`, 2026-12-06), so targets whose subject is not the algorithm
/// sign with it.
pub const ED25519: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
