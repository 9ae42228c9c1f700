//! `Client`: who is calling (address and user agent), as an extractor.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web::Data, FromRequest, HttpRequest};

use crate::auth::client::{client_info, ClientInfo};
use crate::auth::client_ip::ClientIpResolver;

/// The caller's address (forwarding headers count only from trusted proxies) and user agent.
pub struct Client(pub ClientInfo);

impl Client {
    pub fn of(req: &HttpRequest) -> ClientInfo {
        match req.app_data::<Data<ClientIpResolver>>() {
            Some(resolver) => client_info(req, resolver),
            None => client_info(req, &ClientIpResolver::default()),
        }
    }

    /// The caller's rate-limit key alone (`ClientInfo::key`), without reading its user agent.
    pub fn key_of(req: &HttpRequest) -> String {
        let default = ClientIpResolver::default();
        let resolver = match req.app_data::<Data<ClientIpResolver>>() {
            Some(r) => r.get_ref(),
            None => &default,
        };
        resolver
            .key(resolver.resolve(req.peer_addr(), req.headers()))
            .to_string()
    }
}

impl FromRequest for Client {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(Self::of(req))))
    }
}

impl paperclip::v2::schema::Apiv2Schema for Client {}
impl paperclip::actix::OperationModifier for Client {}
