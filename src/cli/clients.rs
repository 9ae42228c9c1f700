//! `portcullis client …`

use super::{tools, ClientCommand};
use crate::config::Settings;

pub async fn run(cmd: ClientCommand, settings: &Settings) -> anyhow::Result<()> {
    let clients = tools(settings).await?.clients;
    match cmd {
        ClientCommand::Create { id } => {
            let secret = clients.create(&id).await?;
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
                println!("{}  created {}", c.client_id, c.created_at.to_rfc3339());
            }
        }
        ClientCommand::Delete { id } => {
            clients.delete(&id).await?;
            println!("deleted API client {id}");
        }
    }
    Ok(())
}
