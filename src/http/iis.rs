//! IIS sub-status codes ("403.7") read from detailed error pages, and what each one means.

/// Finds "403.7"-style sub-status codes of `status` in an IIS error page.
pub fn iis_substatus(body: &[u8], status: u16) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let prefix = format!("{status}.");
    let mut from = 0;
    while let Some(pos) = text[from..].find(&prefix) {
        let at = from + pos;
        let before_ok = at == 0 || !text.as_bytes()[at - 1].is_ascii_digit();
        let digits: String = text[at + prefix.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if before_ok && (1..=2).contains(&digits.len()) {
            return Some(format!("{status}.{digits}"));
        }
        from = at + prefix.len();
    }
    None
}

/// Meaning of an IIS sub-status (Microsoft: HTTP status codes in IIS).
pub fn substatus_meaning(code: &str) -> &'static str {
    match code {
        "401.1" => "logon failed",
        "401.2" => "logon failed due to server configuration",
        "401.3" => "unauthorized due to ACL on resource",
        "401.4" => "authorization failed by filter",
        "401.5" => "authorization failed by ISAPI/CGI application",
        "403.1" => "execute access forbidden",
        "403.2" => "read access forbidden",
        "403.3" => "write access forbidden",
        "403.4" => "SSL required",
        "403.5" => "SSL 128 required",
        "403.6" => "IP address rejected",
        "403.7" => "client certificate required",
        "403.8" => "site access denied",
        "403.12" => "mapper denied access (client certificate mapping)",
        "403.13" => "client certificate revoked",
        "403.14" => "directory listing denied",
        "403.16" => "client certificate is untrusted or invalid",
        "403.17" => "client certificate has expired or is not yet valid",
        "403.18" => "cannot execute request from that application pool",
        "403.20" => "Passport logon failed",
        _ => "",
    }
}
