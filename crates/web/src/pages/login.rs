//! Login and logout. The login form is protected by a double-submit token (cookie +
//! hidden field) since there is no session yet; failures are throttled per user name.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::layout::{html_page, page, Nav};
use super::{safe_next, PageUser};
use crate::app::App;
use crate::auth::{
    header_cookie, random_token, same_secret, session_cookie, signed_in, verify_password,
    LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};
use crate::error::WebError;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
}

fn login_form(
    app: &App,
    next: &str,
    token: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = html! {
        div.card.login {
            h1 { "Sign in" }
            @if let Some(e) = error { div.flash.error role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                label { "User" input #user name="user" autocomplete="username" required autofocus; }
                label { "Password" input #password name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
            @if let Some(sso) = &app.state().oidc {
                p.sso {
                    a.button #sso href=(format!("/login/oidc?next={}", super::percent_encode(next))) {
                        "Sign in with " (sso.name())
                    }
                }
            }
        }
    };
    let mut resp = html_page(status, page("Sign in", None, Nav::None, body));
    let mut c = format!("{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict");
    if app.state().secure_cookies {
        c.push_str("; Secure");
    }
    if let Ok(v) = c.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub async fn show(State(app): State<App>, Query(q): Query<LoginQuery>) -> Response {
    login_form(
        &app,
        &safe_next(q.next.as_deref()),
        &random_token(),
        None,
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub user: String,
    pub password: String,
    pub csrf: String,
    pub next: Option<String>,
}

pub async fn submit(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let cookie_ok =
        header_cookie(&headers, LOGIN_CSRF_COOKIE).is_some_and(|c| same_secret(c, &form.csrf));
    if !cookie_ok {
        return WebError::Csrf.into_response();
    }
    match verify_password(&app, &form.user, &form.password).await {
        Ok(user) => signed_in(&app, &user.name, None, Redirect::to(&next).into_response()),
        Err(WebError::Throttled) => login_form(
            &app,
            &next,
            &random_token(),
            Some("Too many failed attempts; wait a few minutes."),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(_) => login_form(
            &app,
            &next,
            &random_token(),
            Some("Wrong user name or password."),
            StatusCode::UNAUTHORIZED,
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    pub csrf: Option<String>,
}

pub async fn logout(
    State(app): State<App>,
    PageUser(who): PageUser,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Err(e) = who.check_csrf(form.csrf.as_deref()) {
        return e.into_response();
    }
    if let Some(token) = header_cookie(&headers, SESSION_COOKIE) {
        app.auth().end_session(token);
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = session_cookie("", app.state().secure_cookies, Some(0)).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
