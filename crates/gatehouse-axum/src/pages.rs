//! The pages a person sees, rendered on the server with askama (HTML-escaped by default). They
//! work without JavaScript.

use askama::Template;

use crate::config::Branding;

/// The sign-in page.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignIn<'a> {
    pub(crate) brand: &'a Branding,
    pub(crate) action: &'a str,
    pub(crate) client_name: &'a str,
    pub(crate) params: &'a [(String, String)],
    pub(crate) csrf: &'a str,
    pub(crate) error: Option<&'a str>,
    /// The identity providers offered: id and label.
    pub(crate) providers: &'a [(&'a str, &'a str)],
    /// Whether the user name form is shown.
    pub(crate) local: bool,
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
pub(crate) struct ConsentPage<'a> {
    pub(crate) brand: &'a Branding,
    pub(crate) action: &'a str,
    pub(crate) client_name: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) redirect_host: &'a str,
    pub(crate) warnings: &'a [String],
    pub(crate) scopes: &'a [(String, Option<String>)],
    pub(crate) params: &'a [(String, String)],
    pub(crate) csrf: &'a str,
}

/// An error or a notice, with an optional link.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message<'a> {
    pub(crate) brand: &'a Branding,
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
    pub(crate) link: Option<(&'a str, &'a str)>,
}

/// One row of the connected-apps page.
pub(crate) struct ConnectedApp {
    pub(crate) grant: String,
    pub(crate) name: String,
    pub(crate) resources: String,
    pub(crate) scopes: String,
    pub(crate) last_used: String,
}

/// The connected-apps page.
#[derive(Template)]
#[template(path = "connected_apps.html")]
pub(crate) struct ConnectedApps<'a> {
    pub(crate) brand: &'a Branding,
    pub(crate) action: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) apps: &'a [ConnectedApp],
    pub(crate) csrf: &'a str,
    pub(crate) notice: Option<&'a str>,
}

/// Renders a template; a rendering failure becomes a plain message, never a panic.
pub(crate) fn render(template: &impl Template) -> String {
    template.render().unwrap_or_else(|_| {
        "<!doctype html><title>Error</title><p>The page could not be shown.".into()
    })
}

/// A page that says one thing (a refusal, a failure) with its status, delivering `cookies`.
pub(crate) fn message_page(
    brand: &Branding,
    status: axum::http::StatusCode,
    title: &str,
    text: &str,
    cookies: &[String],
) -> axum::response::Response {
    crate::respond::page(
        status,
        render(&Message {
            brand,
            title,
            message: text,
            link: None,
        }),
        cookies,
    )
}
