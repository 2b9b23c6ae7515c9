//! A logged-in operator: a cookie-keeping client that sends the CSRF header.

use reqwest::{Method, RequestBuilder};

pub struct Session {
    pub client: reqwest::Client,
    pub csrf: String,
    base: String,
}

impl Session {
    pub async fn login(base: String, username: &str, password: &str) -> Result<Self, u16> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let response = client
            .post(format!("{base}/v1/auth/login"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("login request");
        if !response.status().is_success() {
            return Err(response.status().as_u16());
        }
        let body: serde_json::Value = response.json().await.expect("login body");
        let csrf = body["csrf_token"].as_str().expect("csrf token").to_owned();
        Ok(Self { client, csrf, base })
    }

    /// A request with the session cookie and, for unsafe methods, the CSRF header.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self
            .client
            .request(method.clone(), format!("{}{}", self.base, path));
        if method == Method::GET || method == Method::HEAD {
            builder
        } else {
            builder.header("x-csrf-token", &self.csrf)
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// GETs `path` and returns the JSON answer; any status but 2xx fails the test.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get(path).send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).expect("a JSON body")
    }

    /// Sends `body` and returns the JSON answer; any status but 2xx fails the test.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> serde_json::Value {
        let response = self
            .request(method.clone(), path)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Puts the subscriber `external_id` on the block list.
    pub async fn block_subscriber(&self, external_id: &str) {
        let entry = serde_json::json!({ "list": "block", "kind": "subscriber",
            "value": external_id, "reason": "asked" });
        self.ok(Method::POST, "/v1/list-entries", &entry).await;
    }
}
