//! Command-line administration: operators and API keys, for automation and recovery.

use clap::Subcommand;
use herald_core::access::Role;
use herald_core::api_keys::{self, NewApiKey};
use herald_core::audit::{Actor, AuditContext};
use herald_core::channel_instances;
use herald_core::config::Config;
use herald_core::operators::{self, NewOperator};
use herald_core::sealing::Sealer;
use herald_core::secrets;

use crate::run::{connect, migrate};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an operator (an admin unless --role says otherwise); prints a generated
    /// password unless HERALD_NEW_OPERATOR_PASSWORD is set.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: Role,
        #[arg(long, env = "HERALD_NEW_OPERATOR_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print its secret once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated, e.g. subscribers:write,messages:send
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Seal every stored channel and event-endpoint secret under `secrets.key` (after a
    /// key rotation, or to seal secrets stored before sealing existed).
    Reseal,
}

pub async fn secrets(config: Config, command: SecretsCommand) -> anyhow::Result<()> {
    let db = connect(&config).await?;
    migrate(&db).await?;
    let sealer = Sealer::from_config(&config.secrets, &config.data_dir)?;
    match command {
        SecretsCommand::Reseal => {
            let changed = channel_instances::reseal_all(&db, &sealer).await?;
            let endpoints = herald_core::events::endpoints::reseal_all(&db, &sealer).await?;
            println!(
                "Resealed the secrets of {changed} channel instance(s) and {endpoints} event \
                 endpoint(s)."
            );
        }
    }
    Ok(())
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "one of admin, editor, reviewer, viewer".to_owned())
}

fn cli_context() -> AuditContext {
    AuditContext::new(Actor::Cli)
}

pub async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let db = connect(&config).await?;
    migrate(&db).await?;
    match command {
        AdminCommand::Create {
            username,
            role,
            password,
        } => {
            let generated = password.is_none().then(|| secrets::random_token(18));
            let chosen = password.or_else(|| generated.clone()).unwrap_or_default();
            let created = operators::create(
                &db,
                &cli_context(),
                NewOperator {
                    username,
                    display_name: None,
                    password: chosen,
                    role,
                },
            )
            .await?;
            println!("created operator `{}` ({})", created.username, created.role);
            if let Some(password) = generated {
                println!("password (shown once): {password}");
            }
        }
    }
    Ok(())
}

pub async fn api_key(config: Config, command: ApiKeyCommand) -> anyhow::Result<()> {
    let db = connect(&config).await?;
    migrate(&db).await?;
    match command {
        ApiKeyCommand::Create { name, scopes } => {
            let created = api_keys::create(
                &db,
                &cli_context(),
                NewApiKey {
                    name,
                    scopes,
                    expires_at: None,
                },
            )
            .await?;
            eprintln!(
                "created API key `{}`; the secret below is shown once:",
                created.model.name
            );
            println!("{}", created.secret);
        }
    }
    Ok(())
}
