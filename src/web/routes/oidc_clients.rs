//! OpenID Connect clients over REST, for superusers: what `portcullis oidc-client` does. A
//! client's secret is in the answer that made it (create, rotate) and never again. Registering
//! a client, changing where its answers go or taking a new secret needs a recent sign-in: a
//! stolen access token must not be enough to send users' codes somewhere new.

use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, web::Json, web::Path, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::auth::reauth::Reauth;
use crate::error::ApiError;
use crate::oidc::clients::{ClientError, ClientSpec, OidcClient, OidcClients};
use crate::web::{ApiOk, CurrentUser};

/// A registered client, as the console shows it (its secret never).
#[derive(Serialize, Apiv2Schema)]
pub struct ClientView {
    pub client_id: String,
    /// A public client has no secret and must use PKCE.
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Needs no consent.
    pub first_party: bool,
    /// `RS256` or `EdDSA`.
    pub id_token_signed_response_alg: String,
    /// The APIs (RFC 8707 `resource`, absolute URIs) it may ask tokens for.
    pub resources: Vec<String>,
}

impl From<OidcClient> for ClientView {
    fn from(c: OidcClient) -> Self {
        Self {
            public: c.is_public(),
            grant_types: c.grants.iter().map(|g| g.as_str().to_owned()).collect(),
            id_token_signed_response_alg: c.id_token_alg.as_str().to_owned(),
            client_id: c.id,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            scopes: c.scopes,
            backchannel_logout_uri: c.backchannel_logout_uri,
            first_party: c.first_party,
            resources: c.resources,
        }
    }
}

/// A new client: its id, whether it is public, and what it may do.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// 3 to 64 lower-case letters, digits, `.`, `_` and `-`.
    pub client_id: String,
    /// A native or browser app that cannot keep a secret (default false); fixed once created.
    pub public: Option<bool>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: Option<bool>,
    pub id_token_signed_response_alg: Option<String>,
    pub resources: Option<Vec<String>>,
}

impl NewClient {
    /// The id, whether it is public, and what it may do.
    fn split(self) -> (String, bool, ClientBody) {
        let body = ClientBody {
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            scopes: self.scopes,
            backchannel_logout_uri: self.backchannel_logout_uri,
            first_party: self.first_party,
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            resources: self.resources,
        };
        (self.client_id, self.public.unwrap_or(false), body)
    }
}

/// All of what a client may do (a `PUT` replaces it; its id, secret and kind stay).
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Default `authorization_code` and `refresh_token`.
    pub grant_types: Option<Vec<String>>,
    /// Default `openid profile email offline_access`.
    pub scopes: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: Option<bool>,
    /// `RS256` (default) or `EdDSA`.
    pub id_token_signed_response_alg: Option<String>,
    /// The APIs (RFC 8707 `resource`, absolute URIs) it may ask tokens for (default none).
    pub resources: Option<Vec<String>>,
}

impl ClientBody {
    fn spec(self) -> Result<ClientSpec, ApiError> {
        let grants = self
            .grant_types
            .unwrap_or_default()
            .iter()
            .map(|g| g.parse())
            .collect::<Result<_, _>>()
            .map_err(ClientError::from)?;
        let id_token_alg = match self.id_token_signed_response_alg {
            Some(alg) => alg.parse().map_err(ClientError::from)?,
            None => Default::default(),
        };
        Ok(ClientSpec {
            redirect_uris: self.redirect_uris.unwrap_or_default(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.unwrap_or_default(),
            grants,
            scopes: self.scopes.unwrap_or_default(),
            backchannel_logout_uri: self.backchannel_logout_uri.filter(|u| !u.is_empty()),
            first_party: self.first_party.unwrap_or(false),
            id_token_alg,
            resources: self.resources.unwrap_or_default(),
        })
    }
}

/// A client with its secret: shown in this answer only.
#[derive(Serialize, Apiv2Schema)]
pub struct ClientWithSecret {
    pub client: ClientView,
    /// `null` for a public client.
    pub client_secret: Option<String>,
}

/// Every OpenID client.
#[api_v2_operation(tags(oidc))]
pub async fn list(
    me: CurrentUser,
    clients: Data<OidcClients>,
) -> Result<ApiOk<Vec<ClientView>>, ApiError> {
    me.require_superuser()?;
    let all = clients.list().await?;
    Ok(ApiOk::new(all.into_iter().map(ClientView::from).collect()))
}

/// Register a client; a confidential client's secret is in this answer only (needs a recent
/// sign-in).
#[api_v2_operation(tags(oidc))]
pub async fn create(
    me: CurrentUser,
    body: Json<NewClient>,
    clients: Data<OidcClients>,
    reauth: Data<Reauth>,
) -> Result<ApiOk<ClientWithSecret>, ApiError> {
    me.require_superuser()?;
    reauth.require_recent(me.user.id, &me.sid).await?;
    let (id, public, body) = body.into_inner().split();
    let (client, secret) = clients.create(&id, public, body.spec()?).await?;
    tracing::info!(target: "security", client = %client.id, by = me.user.id, "OpenID client registered");
    Ok(ApiOk::new(ClientWithSecret {
        client: client.into(),
        client_secret: secret,
    }))
}

/// Replace what a client may do; its secret stays (needs a recent sign-in).
#[api_v2_operation(tags(oidc))]
pub async fn update(
    me: CurrentUser,
    id: Path<String>,
    body: Json<ClientBody>,
    clients: Data<OidcClients>,
    reauth: Data<Reauth>,
) -> Result<ApiOk<ClientView>, ApiError> {
    me.require_superuser()?;
    reauth.require_recent(me.user.id, &me.sid).await?;
    let client = clients.update(&id, body.into_inner().spec()?).await?;
    tracing::info!(target: "security", client = %client.id, by = me.user.id, "OpenID client changed");
    Ok(ApiOk::new(client.into()))
}

/// Delete a client and the consents given to it.
#[api_v2_operation(tags(oidc))]
pub async fn delete(
    me: CurrentUser,
    id: Path<String>,
    clients: Data<OidcClients>,
) -> Result<ApiOk<()>, ApiError> {
    me.require_superuser()?;
    clients.delete(&id).await?;
    tracing::info!(target: "security", client = %id, by = me.user.id, "OpenID client deleted");
    Ok(ApiOk::new(()))
}

#[derive(Serialize, Apiv2Schema)]
pub struct NewSecret {
    pub client_id: String,
    pub client_secret: String,
}

/// A new secret for a confidential client, in this answer only; the old one stops working at
/// once (needs a recent sign-in).
#[api_v2_operation(tags(oidc))]
pub async fn rotate_secret(
    me: CurrentUser,
    id: Path<String>,
    clients: Data<OidcClients>,
    reauth: Data<Reauth>,
) -> Result<ApiOk<NewSecret>, ApiError> {
    me.require_superuser()?;
    reauth.require_recent(me.user.id, &me.sid).await?;
    let client_id = id.into_inner();
    let client_secret = clients.rotate_secret(&client_id).await?;
    tracing::info!(target: "security", client = %client_id, by = me.user.id, "OpenID client secret rotated");
    Ok(ApiOk::new(NewSecret {
        client_id,
        client_secret,
    }))
}
