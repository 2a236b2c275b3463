//! Registry values shared by several RFCs: grant types, response types, client authentication
//! methods, PKCE methods and token type hints.

string_enum! {
    /// A grant type ([RFC 6749 §4](https://www.rfc-editor.org/rfc/rfc6749#section-4), the
    /// `grant_types` of [RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)).
    pub enum GrantType: "grant_type", __check_token {
        /// `authorization_code`: the only interactive grant of OAuth 2.1.
        AuthorizationCode => "authorization_code",
        /// `refresh_token`.
        RefreshToken => "refresh_token",
        /// `client_credentials`.
        ClientCredentials => "client_credentials",
        /// `implicit`: removed by OAuth 2.1; named so that policy can refuse it explicitly.
        Implicit => "implicit",
        /// `password`: removed by OAuth 2.1; named so that policy can refuse it explicitly.
        Password => "password",
        /// RFC 8628 device authorization grant.
        DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        /// RFC 7523 JWT bearer grant.
        JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
        /// RFC 8693 token exchange.
        TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
    }
}

string_enum! {
    /// A `response_type` value
    /// ([RFC 6749 §3.1.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1.1)). Combined values
    /// such as `code id_token` are kept whole, as a single registry value.
    pub enum ResponseType: "response_type", __check_spaced {
        /// `code`: the only response type of OAuth 2.1.
        Code => "code",
        /// `token`: the implicit grant, removed by OAuth 2.1.
        Token => "token",
    }
}

string_enum! {
    /// A client authentication method at the token endpoint
    /// ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)).
    pub enum TokenEndpointAuthMethod: "token_endpoint_auth_method", __check_token {
        /// `none`: a public client (every MCP client that cannot keep a secret).
        None => "none",
        /// `client_secret_basic`: HTTP Basic with the client secret.
        ClientSecretBasic => "client_secret_basic",
        /// `client_secret_post`: the client secret in the form body.
        ClientSecretPost => "client_secret_post",
        /// `client_secret_jwt` (RFC 7523): a JWT MACed with the client secret.
        ClientSecretJwt => "client_secret_jwt",
        /// `private_key_jwt` (RFC 7523): a JWT signed with the client's private key.
        PrivateKeyJwt => "private_key_jwt",
        /// `tls_client_auth` (RFC 8705).
        TlsClientAuth => "tls_client_auth",
        /// `self_signed_tls_client_auth` (RFC 8705).
        SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
    }
}

impl TokenEndpointAuthMethod {
    /// Whether the method proves possession of a secret shared with the authorization server.
    /// Client ID Metadata Documents must not use these: anyone can read the document.
    pub fn uses_shared_secret(&self) -> bool {
        matches!(
            self,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt
        )
    }
}

string_enum! {
    /// A PKCE code challenge method
    /// ([RFC 7636 §4.3](https://www.rfc-editor.org/rfc/rfc7636#section-4.3)).
    pub enum CodeChallengeMethod: "code_challenge_method", __check_token {
        /// `S256`: the only method OAuth 2.1 servers need and the only one Gatehouse accepts.
        S256 => "S256",
        /// `plain`: named so that it can be refused explicitly.
        Plain => "plain",
    }
}

string_enum! {
    /// A `token_type_hint`
    /// ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1), shared by RFC 7662).
    pub enum TokenTypeHint: "token_type_hint", __check_token {
        /// `access_token`.
        AccessToken => "access_token",
        /// `refresh_token`.
        RefreshToken => "refresh_token",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_parse_to_their_variant() {
        assert_eq!(
            GrantType::parse("authorization_code"),
            Ok(GrantType::AuthorizationCode)
        );
        assert_eq!(
            CodeChallengeMethod::parse("S256"),
            Ok(CodeChallengeMethod::S256)
        );
        assert!(TokenEndpointAuthMethod::ClientSecretPost.uses_shared_secret());
        assert!(!TokenEndpointAuthMethod::PrivateKeyJwt.uses_shared_secret());
    }

    #[test]
    fn unknown_values_round_trip_through_json() {
        let value: GrantType = serde_json::from_str("\"urn:example:grant-type:custom\"").unwrap();
        assert!(!value.is_known());
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            "\"urn:example:grant-type:custom\""
        );
        let combined = ResponseType::parse("code id_token").unwrap();
        assert_eq!(combined.as_str(), "code id_token");
    }

    #[test]
    fn values_outside_the_syntax_are_refused() {
        assert!(GrantType::parse("").is_err());
        assert!(GrantType::parse("authorization code").is_err());
        assert!(GrantType::parse("a\u{0}b").is_err());
        assert!(ResponseType::parse(" code").is_err());
        assert!(ResponseType::parse("code  token").is_err());
        assert!(TokenTypeHint::parse(&"x".repeat(300)).is_err());
    }

    #[test]
    fn pkce_method_is_case_sensitive_rfc7636_section_4_3() {
        // "S256" is the registered name; "s256" is some other, unknown method.
        assert!(!CodeChallengeMethod::parse("s256").unwrap().is_known());
    }
}
