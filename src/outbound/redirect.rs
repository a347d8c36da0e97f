//! Redirects, decided hop by hop: the next URL passes the same policy as the first, https never
//! becomes http, and a tenant's credentials stay with the origin they were configured for.

use super::{refuse, Refused, Scheme, Target};

/// Most redirects followed for one request (browsers allow 20; a webhook needs very few).
pub const MAX_REDIRECTS: usize = 5;

/// How the next request of a redirect chain is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The method for the next request (303, and 301/302 after a POST, switch to GET).
    pub method: String,
    /// Whether the body goes along (only when the method is kept).
    pub keep_body: bool,
    /// Whether the tenant's configured headers and our signature go along: only to the origin
    /// they were configured for.
    pub keep_credentials: bool,
}

/// Decides the hop from `from` (the request that answered `status`) to `to`, the already
/// checked location. `hops` counts the redirects followed so far; `origin` is the first URL's.
pub fn next_hop(
    origin: &Target,
    from: &Target,
    method: &str,
    status: u16,
    to: &Target,
    hops: usize,
) -> Result<Hop, Refused> {
    if hops >= MAX_REDIRECTS {
        return Err(refuse(format!(
            "The endpoint redirected more than {MAX_REDIRECTS} times; the request was stopped"
        )));
    }
    if from.scheme == Scheme::Https && to.scheme == Scheme::Http {
        return Err(refuse(format!(
            "The endpoint redirected from https to plain http ({}); the request was stopped",
            to.url
        )));
    }
    let to_get =
        status == 303 && method != "HEAD" || matches!(status, 301 | 302) && method == "POST";
    Ok(Hop {
        method: if to_get { "GET".into() } else { method.into() },
        keep_body: !to_get,
        keep_credentials: origin.same_origin(to),
    })
}

/// Whether `status` is a redirect the fetch standard follows.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}
