//! `portcullis client …`

use super::{tools, ClientCommand};
use crate::auth::clients::NewClient;
use crate::config::Settings;
use crate::domain::ClaimSet;

pub async fn run(cmd: ClientCommand, settings: &Settings) -> anyhow::Result<()> {
    let clients = tools(settings).await?.clients;
    match cmd {
        ClientCommand::Create {
            id,
            claims,
            audience,
        } => {
            let claims = ClaimSet::parse(&claims)?;
            let new = NewClient {
                id: id.clone(),
                claims,
                audience,
            };
            let secret = clients.create(new).await?;
            eprintln!(
                "created API client {id}; its secret follows on standard output, shown only now"
            );
            println!("{secret}");
        }
        ClientCommand::List => {
            let all = clients.list().await?;
            if all.is_empty() {
                eprintln!("no API clients");
            }
            for c in all {
                let audience = c.audience.as_deref().unwrap_or("any");
                println!(
                    "{}  created {}  audience {audience}  claims {}",
                    c.client_id,
                    c.created_at.to_rfc3339(),
                    c.claims
                );
            }
        }
        ClientCommand::Delete { id } => {
            clients.delete(&id).await?;
            println!("deleted API client {id}");
        }
    }
    Ok(())
}
