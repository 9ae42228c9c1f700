//! Portcullis behind a real nginx (Debian's, `auth_request`), protecting a small upstream API
//! that echoes the identity headers it receives. The nginx site is examples/nginx/ as shipped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use portcullis::config::AccessRule;

use crate::helpers::*;

pub struct Nginx {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn nginx_binary() -> &'static str {
    for path in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if std::path::Path::new(path).exists() {
            return path;
        }
    }
    panic!("nginx is not installed: apt-get install nginx-light (.ci/run installs it)");
}

impl Nginx {
    fn start(portcullis: &str, api: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/nginx");
        for file in [
            "protected-api.conf",
            "portcullis-forward.conf",
            "portcullis-subrequest.conf",
        ] {
            let text = std::fs::read_to_string(format!("{examples}/{file}"))
                .unwrap()
                .replace("127.0.0.1:8000", portcullis)
                .replace("127.0.0.1:9000", &format!("127.0.0.1:{api}"))
                .replace("listen 127.0.0.1:8080", &format!("listen 127.0.0.1:{port}"));
            std::fs::write(dir.path().join(file), text).unwrap();
        }
        Self::serve(dir, "protected-api.conf", port)
    }

    /// Runs nginx (in the foreground, one process) on the site `site` that `dir` holds, which
    /// listens on `port`; waits until it accepts connections. `dir` goes with the value.
    pub fn serve(dir: tempfile::TempDir, site: &str, port: u16) -> Self {
        let d = dir.path().display();
        let conf = format!(
            "daemon off; master_process off; worker_processes 1;\n\
             pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n  \
             include {d}/{site};\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let mut child = Command::new(nginx_binary())
            .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            if started.elapsed() > Duration::from_secs(5) || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nginx did not start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// The upstream API: answers with the identity headers it was given.
async fn echo(req: HttpRequest) -> HttpResponse {
    let h = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    HttpResponse::Ok().json(json!({
        "path": req.path(),
        "remote_user": h("remote-user"),
        "remote_user_id": h("remote-user-id"),
        "remote_groups": h("remote-groups"),
        "peer_port": req.peer_addr().map(|a| a.port()),
    }))
}

fn start_api() -> u16 {
    let server = HttpServer::new(|| App::new().default_service(web::to(echo)))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    port
}

/// Established TCP connections (IPv4) whose local port is `port`: the server's side of each.
fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&local) && f[3] == "01"
        })
        .count()
}

/// The shipped site keeps its connections to Portcullis and to the API open (an `upstream` with
/// `keepalive`, HTTP/1.1, `Connection` cleared): ten requests, one connection each way.
#[actix_web::test]
async fn the_shipped_site_reuses_its_connections_to_portcullis_and_the_api() {
    let (settings, dir) = test_settings().await;
    let a = spawn_with(settings, dir).await;
    let api = start_api();
    let portcullis = a.address.trim_start_matches("http://").to_owned();
    let nginx = Nginx::start(&portcullis, api);
    a.create_user("kit").await;
    let t = token(&a.login("kit", PASSWORD).await, "access_token");
    let port: u16 = portcullis.rsplit(':').next().unwrap().parse().unwrap();
    let before = established_to(port);
    let client = reqwest::Client::new();
    let mut api_ports = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let res = client
            .get(nginx.url("/orders"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let seen: Value = res.json().await.unwrap();
        api_ports.insert(seen["peer_port"].as_u64().unwrap());
    }
    assert_eq!(
        api_ports.len(),
        1,
        "one connection to the API: {api_ports:?}"
    );
    let kept = established_to(port) - before;
    assert_eq!(
        kept, 1,
        "one connection to Portcullis, kept open for the next request"
    );
}

#[actix_web::test]
async fn nginx_auth_request_protects_an_api() {
    let (settings, dir) = test_settings().await;
    let a = spawn_with(settings.clone(), dir.clone()).await;
    // Production: the logout happens on another node than the one nginx asks.
    let b = if production_mode() {
        Some(spawn_with(settings, dir).await)
    } else {
        None
    };
    let elsewhere = b.as_ref().unwrap_or(&a);
    let api = start_api();
    let nginx = Nginx::start(a.address.trim_start_matches("http://"), api);
    let client = reqwest::Client::new();

    let res = client.get(nginx.url("/orders")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        www_authenticate(&res).as_deref(),
        Some("Bearer realm=\"portcullis\"")
    );

    a.create_user("vince").await;
    let t = token(&a.login("vince", PASSWORD).await, "access_token");
    let res = client
        .get(nginx.url("/orders?page=2"))
        .bearer_auth(&t)
        .header("remote-user", "root") // a client cannot name itself
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["remote_user"], "vince", "{seen}");
    assert_eq!(seen["path"], "/orders");

    let res = client
        .get(nginx.url("/orders/new"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "order:create is missing");

    let bad = client
        .get(nginx.url("/orders"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(www_authenticate(&bad).unwrap().contains("invalid_token"));

    assert_eq!(
        elsewhere
            .post_auth("/api/v1/auth/logout", &t)
            .await
            .status(),
        200
    );
    let res = client
        .get(nginx.url("/orders"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "logged out on another node: refused on the next request"
    );
}

/// A raw HTTP/1.1 request to nginx, so that the path goes out exactly as written (an HTTP client
/// would resolve `..` and re-encode): the status line's code.
async fn raw_status(port: u16, method: &str, target: &str, headers: &[(&str, &str)]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[actix_web::test]
async fn through_nginx_a_client_cannot_talk_past_the_rules() {
    let (mut settings, dir) = test_settings().await;
    let rule = |methods: &[&str], path: &str, permission: Option<&str>| AccessRule {
        methods: methods.iter().map(|m| m.to_string()).collect(),
        host: None,
        path: path.into(),
        permission: permission.map(Into::into),
        public: permission.is_none(),
        mfa: false,
    };
    // docs/protecting-an-api.md's rules.
    settings.forward_auth.rules = vec![
        rule(&[], "/healthz", None),
        rule(&[], "/public/**", None),
        rule(&["POST", "DELETE"], "/orders/**", Some("order:write")),
    ];
    let app = spawn_with(settings, dir).await;
    let api = start_api();
    let nginx = Nginx::start(app.address.trim_start_matches("http://"), api);
    app.create_user("wendy").await;
    let t = token(&app.login("wendy", PASSWORD).await, "access_token");
    let bearer = format!("Bearer {t}");
    let port = nginx.port;

    assert_eq!(raw_status(port, "GET", "/healthz", &[]).await, 200);
    assert_eq!(raw_status(port, "GET", "/orders/7", &[]).await, 401);
    // The client names another path or method in the header set nginx does not write, and in
    // the one it does (which nginx overwrites).
    for spoof in [
        [
            ("X-Forwarded-Uri", "/healthz"),
            ("X-Forwarded-Method", "GET"),
        ],
        [("X-Original-URI", "/healthz"), ("X-Original-Method", "GET")],
    ] {
        assert_eq!(raw_status(port, "GET", "/orders/7", &spoof).await, 401);
        let mut with_token = spoof.to_vec();
        with_token.push(("Authorization", &bearer));
        assert_eq!(
            raw_status(port, "DELETE", "/orders/7", &with_token).await,
            403,
            "{spoof:?}"
        );
    }
    assert_eq!(
        raw_status(port, "DELETE", "/orders/7", &[("Authorization", &bearer)]).await,
        403
    );
    assert_eq!(
        raw_status(port, "GET", "/orders/7", &[("Authorization", &bearer)]).await,
        200
    );
    // Paths judged as the backend routes them.
    for (method, target) in [
        ("POST", "/orders"),
        ("DELETE", "/%6Frders/7"),
        ("DELETE", "//orders/7"),
    ] {
        assert_eq!(
            raw_status(port, method, target, &[("Authorization", &bearer)]).await,
            403,
            "{method} {target}"
        );
    }
    for target in [
        "/public/../orders/7",
        "/public/%2e%2e/orders/7",
        "/public/%2Forders",
    ] {
        assert_eq!(
            raw_status(port, "DELETE", target, &[]).await,
            400,
            "{target}: refused, not judged by the public rule"
        );
    }
    assert_eq!(raw_status(port, "GET", "/public/app.css", &[]).await, 200);
}
