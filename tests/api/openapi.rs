//! The committed `openapi.json` must equal what the server generates. Run with
//! `UPDATE_OPENAPI=1` to rewrite it after changing routes.

use serde_json::Value;

use crate::helpers::*;

#[actix_web::test]
async fn committed_spec_matches_the_generated_one() {
    let app = spawn_app().await;
    let spec: Value = app.get_json("/api/v1/openapi.json").await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let generated = serde_json::to_string_pretty(&spec).unwrap() + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is stale: run `UPDATE_OPENAPI=1 cargo nextest run openapi` and commit it"
    );

    // Protected operations declare the bearer scheme; public ones do not.
    assert!(
        spec["securityDefinitions"]["bearer"].is_object(),
        "{}",
        spec["securityDefinitions"]
    );
    let me = &spec["paths"]["/api/v1/sys/users/me"]["get"];
    assert!(me["security"].to_string().contains("bearer"), "{me}");
    let login = &spec["paths"]["/api/v1/auth/login"]["post"];
    assert!(login.get("security").is_none(), "{login}");
    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert!(docs.status().is_success() || docs.status().is_redirection());
}
