//! A database URL made fit for a message, a log line or the console: its password, in the user
//! information or in the query string (`?password=`), replaced by [`REDACTED`]. Every place that shows
//! a database URL (start-up messages, errors, `GET /v1/configuration`) uses this one function.

/// What a secret is shown as.
pub const REDACTED: &str = "[redacted]";

/// `url` with its password redacted; a URL without one, or that is not a URL, is returned as it is.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:{REDACTED}@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_owned(),
    };
    let path = path.map(|p| {
        let (p, q) = p.split_once('?').map_or((p, None), |(p, q)| (p, Some(q)));
        let q = q.map(|q| {
            q.split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}={REDACTED}"),
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        match q {
            Some(q) => format!("/{p}?{q}"),
            None => format!("/{p}"),
        }
    });
    format!("{scheme}://{authority}{}", path.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_password_in_the_user_information_or_the_query_is_redacted() {
        assert_eq!(redact_url("postgres://u:pw@h:5432/db"), "postgres://u:[redacted]@h:5432/db");
        assert_eq!(
            redact_url("postgres://u@h/db?password=x&sslmode=require"),
            "postgres://u@h/db?password=[redacted]&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://sanhu:pw@db1:5433,db2:5434/sanhu?target_session_attrs=read-write"),
            "postgres://sanhu:[redacted]@db1:5433,db2:5434/sanhu?target_session_attrs=read-write"
        );
        assert_eq!(redact_url("postgres://app:secret@db"), "postgres://app:[redacted]@db");
    }

    #[test]
    fn a_url_without_a_password_is_unchanged() {
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
        assert_eq!(redact_url("sqlite://sanhu.db"), "sqlite://sanhu.db");
        assert_eq!(redact_url("sanhu.db"), "sanhu.db");
    }
}
