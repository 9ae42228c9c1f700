//! `portcullis oidc-client …`

use super::{tools, OidcClientCommand, OidcClientSpec};
use crate::config::Settings;
use crate::oidc::clients::{joined, ClientSpec, OidcClient};

fn spec_of(s: OidcClientSpec) -> anyhow::Result<ClientSpec> {
    Ok(ClientSpec {
        redirect_uris: s.redirect_uris,
        post_logout_redirect_uris: s.post_logout_redirect_uris,
        grants: s
            .grants
            .iter()
            .map(|g| g.parse())
            .collect::<Result<_, _>>()?,
        scopes: s.scopes,
        backchannel_logout_uri: s.backchannel_logout_uri,
        first_party: s.first_party,
        id_token_alg: s.id_token_alg.parse()?,
        resources: s.resources,
    })
}

fn describe(c: &OidcClient) -> String {
    let none = |v: &[String]| match v.is_empty() {
        true => "-".to_owned(),
        false => joined(v),
    };
    format!(
        "{}  {}{}\n  redirect URIs:     {}\n  grants:            {}\n  scopes:            {}\n  \
         post-logout URIs:  {}\n  back-channel:      {}\n  ID tokens:         {}\n  \
         resources:         {}",
        c.id,
        if c.is_public() {
            "public"
        } else {
            "confidential"
        },
        if c.first_party { ", first party" } else { "" },
        none(&c.redirect_uris),
        joined(&c.grants),
        none(&c.scopes),
        none(&c.post_logout_redirect_uris),
        c.backchannel_logout_uri.as_deref().unwrap_or("-"),
        c.id_token_alg.as_str(),
        none(&c.resources),
    )
}

pub async fn run(cmd: OidcClientCommand, settings: &Settings) -> anyhow::Result<()> {
    let clients = tools(settings).await?.oidc_clients;
    match cmd {
        OidcClientCommand::Create { id, public, spec } => {
            let (client, secret) = clients.create(&id, public, spec_of(spec)?).await?;
            eprintln!("{}", describe(&client));
            match secret {
                Some(secret) => {
                    eprintln!(
                        "created OpenID client {id}; its secret follows on standard output, \
                         shown only now"
                    );
                    println!("{secret}");
                }
                None => eprintln!("created public OpenID client {id} (no secret; PKCE required)"),
            }
        }
        OidcClientCommand::List => {
            let all = clients.list().await?;
            if all.is_empty() {
                eprintln!("no OpenID clients");
            }
            for c in all {
                println!("{}", describe(&c));
            }
        }
        OidcClientCommand::Update { id, spec } => {
            let client = clients.update(&id, spec_of(spec)?).await?;
            println!("{}", describe(&client));
        }
        OidcClientCommand::Delete { id } => {
            clients.delete(&id).await?;
            println!("deleted OpenID client {id}");
        }
        OidcClientCommand::RotateSecret { id } => {
            let secret = clients.rotate_secret(&id).await?;
            eprintln!(
                "new secret for {id} follows on standard output; the old one no longer works"
            );
            println!("{secret}");
        }
    }
    Ok(())
}
