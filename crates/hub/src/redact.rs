//! What of a secret-bearing value may go to the log. Webhook URLs often carry a secret in their
//! query or user info (a Zapier hook URL, `https://user:pass@…`), and logs are read by more
//! people than the tenant's configuration is.

/// A URL for the log: scheme, host, port and path; no user info, query or fragment.
pub fn url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// A secret for a list: only its last four characters, so that two can be told apart.
pub fn secret(s: &str) -> String {
    let tail: String = s
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("••••••••{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_info_query_and_fragment_are_left_out() {
        assert_eq!(
            super::url("https://user:pw@hooks.zapier.com/hooks/catch/1/abc/?secret=s3#x"),
            "https://hooks.zapier.com/hooks/catch/1/abc/"
        );
        assert_eq!(super::url("not a url ?token=s3"), "(unparsable URL)");
    }

    #[test]
    fn masks_keep_only_the_tail() {
        assert_eq!(super::secret("abcdef123456"), "••••••••3456");
        assert_eq!(super::secret("ab"), "••••••••ab");
    }
}
