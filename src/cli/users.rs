//! `portcullis user …`

use anyhow::Context;

use super::{read_password, tools, UserCommand, UserMfaCommand};
use crate::admin::{self, AdminError, Caller, UserSpec};
use crate::config::Settings;
use crate::repo::{CodeChange, RoleKey};

pub async fn run(cmd: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            username,
            email,
            nickname,
            superuser,
            password_stdin: _,
        } => {
            let password = read_password()?;
            let spec = UserSpec {
                username,
                password,
                email,
                nickname,
                superuser,
                ..UserSpec::default()
            };
            let user = tools(settings).await?.admin.create_user(spec).await?;
            println!("created user {} (id {})", user.username, user.id);
        }
        UserCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let a = tools(settings).await?.admin;
            let (rows, mut errors) = admin::parse_import(&text);
            let total = rows.len() + errors.len();
            let (mut created, mut existing) = (0, 0);
            for (i, (line, spec)) in rows.into_iter().enumerate() {
                let name = spec.username.clone();
                match a.create_user(spec).await {
                    Ok(_) => created += 1,
                    Err(AdminError::Taken(_)) => {
                        existing += 1;
                        eprintln!("line {line}: `{name}` already exists, skipped");
                    }
                    Err(e @ AdminError::Invalid(_)) => errors.push(admin::RowError {
                        line,
                        message: e.to_string(),
                    }),
                    Err(e) => {
                        return Err(e).with_context(|| format!("line {line}: import stopped"))
                    }
                }
                if (i + 1) % 50 == 0 {
                    eprintln!("... {} of {total} rows", i + 1);
                }
            }
            errors.sort_by_key(|e| e.line);
            for e in &errors {
                eprintln!("line {}: {}", e.line, e.message);
            }
            println!(
                "imported {created} user(s); {existing} already existed; {} row(s) with errors",
                errors.len()
            );
            anyhow::ensure!(
                errors.is_empty(),
                "{} row(s) were not imported",
                errors.len()
            );
        }
        UserCommand::SetPassword { username, .. } => {
            let password = read_password()?;
            let tools = tools(settings).await?;
            let n = tools.admin.set_password(&username, password).await?;
            tools.queue_logout_notices().await?;
            println!("password of {username} changed; ended {n} session(s)");
        }
        UserCommand::Mfa {
            command: UserMfaCommand::Reset { username },
        } => {
            let tools = tools(settings).await?;
            let user = tools.admin.find(&username).await?;
            let reset = tools.admin.reset_mfa(Caller::Operator, user.id).await?;
            tools.queue_logout_notices().await?;
            match reset {
                Some(n) => {
                    println!("removed the second factors of {username}; ended {n} session(s)")
                }
                None => println!("{username} has no second factor: nothing changed"),
            }
        }
        UserCommand::Disable { username } => {
            let tools = tools(settings).await?;
            let n = tools.admin.set_enabled(&username, false).await?;
            tools.queue_logout_notices().await?;
            println!("disabled {username}; ended {n} session(s)");
        }
        UserCommand::Enable { username } => {
            tools(settings)
                .await?
                .admin
                .set_enabled(&username, true)
                .await?;
            println!("enabled {username}");
        }
        UserCommand::Grant { username, role } => {
            let roles = tools(settings).await?.roles;
            let uid = roles.user_id(&username).await?;
            let now = roles
                .change_user_roles(uid, CodeChange::Add, &[RoleKey::Name(role.clone())])
                .await?;
            let names: Vec<&str> = now.iter().map(|r| r.name.as_str()).collect();
            println!(
                "granted {role} to {username}; roles now: {}",
                names.join(", ")
            );
        }
        UserCommand::Ungrant { username, role } => {
            let roles = tools(settings).await?.roles;
            let uid = roles.user_id(&username).await?;
            let now = roles
                .change_user_roles(uid, CodeChange::Remove, &[RoleKey::Name(role.clone())])
                .await?;
            let names: Vec<&str> = now.iter().map(|r| r.name.as_str()).collect();
            println!(
                "took {role} from {username}; roles now: {}",
                names.join(", ")
            );
        }
    }
    Ok(())
}
