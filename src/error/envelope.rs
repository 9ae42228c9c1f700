//! What every answer looks like: the `{code, msg, data, slug, trace_id}` envelope, and the
//! client's language.

use actix_web::{http::header, HttpRequest, HttpResponse};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// `msg` of a successful answer.
    pub fn success(self) -> &'static str {
        match self {
            Self::En => "Success",
            Self::Zh => "请求成功",
        }
    }

    /// The first language the client lists decides; anything Chinese gets Chinese.
    pub fn from_request(req: &HttpRequest) -> Self {
        let first = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .unwrap_or("");
        if first.trim().to_ascii_lowercase().starts_with("zh") {
            Self::Zh
        } else {
            Self::En
        }
    }
}

/// The response envelope, success and failure alike.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, T: Serialize> {
    pub code: u32,
    pub msg: std::borrow::Cow<'a, str>,
    pub data: Option<&'a T>,
    /// A failure's stable, machine-readable name (`invalid_token`). Not `error`: fba's
    /// frontend shows an envelope's `error` before its `msg`, so its users would read slugs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<&'a str>,
}

impl<'a, T: Serialize> Envelope<'a, T> {
    /// `{code: 200, msg, data}`.
    pub fn success(lang: Lang, data: &'a T) -> Self {
        Envelope {
            code: 200,
            msg: lang.success().into(),
            data: Some(data),
            slug: None,
            trace_id: None,
        }
    }

    /// The envelope as JSON, written into a buffer sized for a typical answer, so a user or a
    /// token pair is serialized without growing it.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut body = Vec::with_capacity(512);
        serde_json::to_writer(&mut body, self)?;
        Ok(body)
    }

    /// The envelope as the JSON body of `res`.
    pub fn respond(&self, res: &mut actix_web::HttpResponseBuilder) -> HttpResponse {
        match self.to_json() {
            Ok(body) => res.content_type(header::ContentType::json()).body(body),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a response");
                HttpResponse::InternalServerError().finish()
            }
        }
    }
}
