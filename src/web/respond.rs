//! `ApiOk<T>`: the success envelope `{code: 200, msg, data}` (optionally with cookies), and its
//! OpenAPI description.

use std::collections::BTreeMap;
use std::io::Write;

use actix_web::{
    body::BoxBody, cookie::Cookie, http::header::ContentType, web::Json, HttpRequest, HttpResponse,
    Responder,
};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, Response};
use paperclip::v2::schema::Apiv2Schema;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::Proof;
use crate::error::{Envelope, Lang};

/// A cached user's success envelope, rendered when the user was cached (English; other
/// languages are rendered here from the cached JSON), with the session's `amr` and
/// `auth_time` written into the user object. Documented as `ApiOk<T>`.
pub struct Prejsoned<T> {
    user: std::sync::Arc<crate::domain::CachedUser>,
    proof: Proof,
    _shape: std::marker::PhantomData<T>,
}

impl<T> Prejsoned<T> {
    pub fn new(user: std::sync::Arc<crate::domain::CachedUser>, proof: Proof) -> Self {
        Self {
            user,
            proof,
            _shape: std::marker::PhantomData,
        }
    }
}

/// `json` is an object followed by `after` more bytes (the envelope's `}`): the copy with
/// `amr` and `auth_time` as the object's last members. One allocation, as the plain copy.
fn with_proof(json: &[u8], after: usize, proof: &Proof) -> Vec<u8> {
    let (head, tail) = json.split_at(json.len() - after - 1);
    let mut out = Vec::with_capacity(json.len() + 64);
    out.extend_from_slice(head);
    out.extend_from_slice(b",\"amr\":");
    out.extend_from_slice(proof.amr.json_array().as_bytes());
    out.extend_from_slice(b",\"auth_time\":");
    // Into the buffer: writing to a Vec cannot fail.
    let _ = write!(out, "{}", proof.auth_time);
    out.extend_from_slice(tail);
    out
}

impl<T> Responder for Prejsoned<T> {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        match Lang::from_request(req) {
            // A copy, not a second reference: the cached bytes' reference count is a cache line
            // every worker would write to.
            Lang::En => HttpResponse::Ok()
                .content_type(ContentType::json())
                .body(with_proof(&self.user.answer, 1, &self.proof)),
            lang => {
                let json = with_proof(self.user.json.get().as_bytes(), 0, &self.proof);
                match String::from_utf8(json).map(RawValue::from_string) {
                    Ok(Ok(data)) => Envelope::success(lang, &data).respond(&mut HttpResponse::Ok()),
                    _ => HttpResponse::InternalServerError().finish(),
                }
            }
        }
    }
}

impl<T: Apiv2Schema> Apiv2Schema for Prejsoned<T> {
    fn raw_schema() -> DefaultSchemaRaw {
        ApiOk::<T>::raw_schema()
    }
}

impl<T: Apiv2Schema> OperationModifier for Prejsoned<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        ApiOk::<T>::update_response(op)
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        ApiOk::<T>::update_definitions(map)
    }
}

pub struct ApiOk<T> {
    data: T,
    cookies: Vec<Cookie<'static>>,
    /// Answer `302 Found` to this address instead of the envelope (browser-driven flows).
    redirect: Option<String>,
}

impl<T> ApiOk<T> {
    pub fn new(data: T) -> Self {
        Self {
            data,
            cookies: Vec::new(),
            redirect: None,
        }
    }

    pub fn redirect_to(mut self, url: String) -> Self {
        self.redirect = Some(url);
        self
    }

    pub fn cookie(mut self, c: Cookie<'static>) -> Self {
        self.cookies.push(c);
        self
    }
}

impl<T: Serialize> Responder for ApiOk<T> {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let mut res = match &self.redirect {
            Some(_) => HttpResponse::Found(),
            None => HttpResponse::Ok(),
        };
        for c in self.cookies {
            res.cookie(c);
        }
        if let Some(url) = self.redirect {
            return res
                .insert_header((actix_web::http::header::LOCATION, url))
                .finish();
        }
        Envelope::success(Lang::from_request(req), &self.data).respond(&mut res)
    }
}

impl<T: Apiv2Schema> Apiv2Schema for ApiOk<T> {
    fn raw_schema() -> DefaultSchemaRaw {
        let mut s = DefaultSchemaRaw {
            data_type: Some(DataType::Object),
            ..Default::default()
        };
        let int = DefaultSchemaRaw {
            data_type: Some(DataType::Integer),
            ..Default::default()
        };
        let string = DefaultSchemaRaw {
            data_type: Some(DataType::String),
            ..Default::default()
        };
        let mut data = T::schema_with_ref();
        data.retain_ref();
        s.properties.insert("code".into(), Box::new(int));
        s.properties.insert("msg".into(), Box::new(string));
        s.properties.insert("data".into(), Box::new(data));
        s.required
            .extend(["code".to_owned(), "msg".to_owned(), "data".to_owned()]);
        s
    }
}

impl<T: Apiv2Schema> OperationModifier for ApiOk<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        op.responses.insert(
            "200".into(),
            Either::Right(Response {
                description: Some("OK: the envelope with `data`".into()),
                schema: Some(Self::raw_schema()),
                ..Default::default()
            }),
        );
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        <Json<T> as OperationModifier>::update_definitions(map);
    }
}
