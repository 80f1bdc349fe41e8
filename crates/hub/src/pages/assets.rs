//! The pages' stylesheet and their one small script, served by the hub (nothing is loaded
//! from anywhere else; the Content-Security-Policy says so too).

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../../templates/admin/admin.css");
const JS: &str = include_str!("../../templates/admin/admin.js");

/// `GET /admin/assets/admin.css`.
pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

/// `GET /admin/assets/admin.js`: copy buttons, and live numbers on pages that ask for them.
pub async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
}
