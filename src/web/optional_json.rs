//! A JSON body that may be left out. actix's `Option<Json<T>>` turns every error into `None`, so
//! a body of the wrong type (`[null, null]`, `"x"`, a form) was taken for no body at all; here
//! only an empty request is `None`, and any body there is must be the JSON the document states
//! (else the usual 400 `invalid_body`, through `JsonConfig`'s handler).

use std::collections::BTreeMap;

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::{ready, Either, LocalBoxFuture, Ready};
use futures_util::FutureExt;
use paperclip::actix::web::Json;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;

/// `None` for a request without a body; the parsed body otherwise.
pub struct OptionalJson<T>(pub Option<T>);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

/// No body: no `Transfer-Encoding` and no `Content-Length` other than 0 (HTTP/1.1 framing).
fn without_body(req: &HttpRequest) -> bool {
    let headers = req.headers();
    !headers.contains_key(TRANSFER_ENCODING)
        && headers
            .get(CONTENT_LENGTH)
            .is_none_or(|v| v.to_str().is_ok_and(|s| s.trim() == "0"))
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Either<
        Ready<Result<Self, actix_web::Error>>,
        LocalBoxFuture<'static, Result<Self, actix_web::Error>>,
    >;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if without_body(req) {
            return Either::Left(ready(Ok(Self(None))));
        }
        let body = actix_web::web::Json::<T>::from_request(req, payload);
        Either::Right(async move { Ok(Self(Some(body.await?.into_inner()))) }.boxed_local())
    }
}

/// Documented as `Json<T>`; `spec::OPTIONAL_BODIES` marks the body as not required.
impl<T: Apiv2Schema> Apiv2Schema for OptionalJson<T> {
    fn name() -> Option<String> {
        T::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema> OperationModifier for OptionalJson<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        Json::<T>::update_parameter(op);
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        Json::<T>::update_definitions(map);
    }
}
