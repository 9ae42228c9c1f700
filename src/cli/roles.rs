//! `portcullis role …`

use super::{tools, RoleCommand};
use crate::config::Settings;
use crate::repo::{CodeChange, RoleKey};

pub async fn run(cmd: RoleCommand, settings: &Settings) -> anyhow::Result<()> {
    let roles = tools(settings).await?.roles;
    match cmd {
        RoleCommand::Create { name, permissions } => {
            let role = roles.create(&name, &permissions).await?;
            println!(
                "created role {} (id {}) with {} code(s)",
                role.name,
                role.id,
                role.codes.len()
            );
        }
        RoleCommand::List => {
            let all = roles.list().await?;
            if all.is_empty() {
                println!("no roles");
            }
            let width = all.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
            for r in all {
                let status = if r.status == 1 { "enabled" } else { "disabled" };
                println!("{:width$}  {status:8}  {}", r.name, r.codes.join(" "));
            }
        }
        RoleCommand::Delete { name } => {
            roles.delete(RoleKey::Name(name.clone())).await?;
            println!("deleted role {name}");
        }
        RoleCommand::Permit { name, codes } => {
            let r = roles
                .change_codes(RoleKey::Name(name), CodeChange::Add, &codes)
                .await?;
            println!("{}: {}", r.name, r.codes.join(" "));
        }
        RoleCommand::Forbid { name, codes } => {
            let r = roles
                .change_codes(RoleKey::Name(name), CodeChange::Remove, &codes)
                .await?;
            println!("{}: {}", r.name, r.codes.join(" "));
        }
    }
    Ok(())
}
