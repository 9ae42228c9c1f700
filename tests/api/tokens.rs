//! Every bad token the foundation issue names: refused with 400/401, never 500.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::*;

struct Ctx {
    app: TestApp,
    access: String,
    claims: Value,
    kid: Option<String>,
}

async fn setup() -> Ctx {
    let app = spawn_app().await;
    app.create_user("mallory").await;
    let data = app.login("mallory", PASSWORD).await;
    let access = token(&data, "access_token");
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid;
    Ctx {
        app,
        access,
        claims,
        kid,
    }
}

impl Ctx {
    fn sign(&self, typ: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(typ.into());
        header.kid = self.kid.clone();
        encode(
            &header,
            claims,
            &EncodingKey::from_secret(self.app.secret()),
        )
        .unwrap()
    }

    fn with(&self, key: &str, value: Value) -> Value {
        let mut c = self.claims.clone();
        c[key] = value;
        c
    }

    async fn expect_refused(&self, label: &str, token: &str) {
        let res = self.app.me(token).await;
        let status = res.status().as_u16();
        assert!(status == 401 || status == 400, "{label}: got {status}");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["slug"] == "invalid_token" || body["slug"] == "invalid_request",
            "{label}: {body}"
        );
    }
}

#[actix_web::test]
async fn forged_and_malformed_tokens_are_refused() {
    let ctx = setup().await;
    // Sanity: the genuine token and a re-signed copy of it work.
    assert_eq!(ctx.app.me(&ctx.access).await.status(), 200);
    assert_eq!(
        ctx.app.me(&ctx.sign("at+jwt", &ctx.claims)).await.status(),
        200
    );

    // The right secret, but a key id that is not ours (or none at all).
    for kid in [Some("not-a-key-of-ours"), None] {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = kid.map(Into::into);
        let t = encode(
            &header,
            &ctx.claims,
            &EncodingKey::from_secret(ctx.app.secret()),
        )
        .unwrap();
        ctx.expect_refused(&format!("kid {kid:?}"), &t).await;
    }

    let mut tampered = ctx.access.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    ctx.expect_refused("tampered signature", &tampered).await;

    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
    let body = URL_SAFE_NO_PAD.encode(ctx.claims.to_string());
    ctx.expect_refused("alg none", &format!("{header}.{body}."))
        .await;

    ctx.expect_refused("typ JWT", &ctx.sign("JWT", &ctx.claims))
        .await;
    ctx.expect_refused(
        "wrong iss",
        &ctx.sign("at+jwt", &ctx.with("iss", json!("evil"))),
    )
    .await;
    ctx.expect_refused(
        "wrong aud",
        &ctx.sign("at+jwt", &ctx.with("aud", json!("other"))),
    )
    .await;

    let now = ctx.claims["iat"].as_i64().unwrap();
    let expired = ctx.with("exp", json!(now - 3600));
    ctx.expect_refused("expired", &ctx.sign("at+jwt", &expired))
        .await;
    let future = ctx.with("nbf", json!(now + 3600));
    ctx.expect_refused("nbf in the future", &ctx.sign("at+jwt", &future))
        .await;

    let mut no_sid = ctx.claims.clone();
    no_sid.as_object_mut().unwrap().remove("sid");
    ctx.expect_refused("missing sid", &ctx.sign("at+jwt", &no_sid))
        .await;
    ctx.expect_refused(
        "unknown sid",
        &ctx.sign("at+jwt", &ctx.with("sid", json!("0".repeat(32)))),
    )
    .await;
    ctx.expect_refused(
        "sub not a user id",
        &ctx.sign("at+jwt", &ctx.with("sub", json!("admin"))),
    )
    .await;
    ctx.expect_refused(
        "another user's session",
        &ctx.sign("at+jwt", &ctx.with("sub", json!("999"))),
    )
    .await;

    ctx.expect_refused(
        "exp as string",
        &ctx.sign("at+jwt", &ctx.with("exp", json!("9999999999"))),
    )
    .await;
    ctx.expect_refused(
        "huge exp",
        &ctx.sign("at+jwt", &ctx.with("exp", json!(1e300))),
    )
    .await;
    ctx.expect_refused(
        "exp past i64",
        &ctx.sign("at+jwt", &ctx.with("exp", json!(u64::MAX))),
    )
    .await;

    ctx.expect_refused("garbage", "not-a-jwt").await;
    ctx.expect_refused("64 KiB", &"a".repeat(64 * 1024)).await;
}

#[actix_web::test]
async fn the_refresh_token_is_not_an_access_token() {
    let ctx = setup().await;
    let data = ctx.app.login("mallory", PASSWORD).await;
    let res = ctx.app.me(&token(&data, "refresh_token")).await;
    assert_error(res, 401, "invalid_token").await;
}

#[actix_web::test]
async fn malformed_headers_are_400_and_schemes_are_case_insensitive() {
    let ctx = setup().await;
    let url = ctx.app.url("/api/v1/sys/users/me");
    let send = |value: reqwest::header::HeaderValue| {
        ctx.app
            .client
            .get(&url)
            .header("authorization", value)
            .send()
    };
    let res = send(reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe\xfd").unwrap())
        .await
        .unwrap();
    let challenge = www_authenticate(&res).unwrap();
    assert!(
        challenge.contains("error=\"invalid_request\""),
        "{challenge}"
    );
    assert_error(res, 400, "invalid_request").await;

    let res = send("Bearer two tokens".parse().unwrap()).await.unwrap();
    assert_error(res, 400, "invalid_request").await;

    let res = send(format!("bEaReR {}", ctx.access).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = send("Basic YTpi".parse().unwrap()).await.unwrap();
    assert_error(res, 401, "unauthorized").await;

    // Tokens in the query string are never read.
    let res = ctx
        .app
        .client
        .get(format!("{url}?access_token={}", ctx.access))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthorized").await;
}
