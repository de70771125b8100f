//! How a stored file is handed out: shown in the browser (`inline`) or saved
//! (`attachment`). Files come from patients, providers and strangers (an inbound email's
//! attachment), so a file is shown only when its type cannot run anything in the page of
//! this server's origin: a short list of images, PDF and plain text with a charset.
//! Everything else, HTML, SVG, XHTML, XML, an unknown or malformed type, is an
//! attachment, whatever the route would prefer. (`X-Content-Type-Options: nosniff`, on
//! every response, keeps the browser to the type given.)

/// Types that are safe to show, without their parameters.
const SAFE_TO_SHOW: &[&str] = &["image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"];

/// Whether a file of `content_type` may be shown inline. `text/plain` only with a
/// charset, so that no browser guesses one (UTF-7 was once the way in).
pub fn safe_to_show(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    if !SAFE_TO_SHOW.contains(&essence.as_str()) {
        return false;
    }
    if essence != "text/plain" {
        return true;
    }
    parts.any(|p| {
        p.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("charset") && !value.trim().trim_matches('"').is_empty()
        })
    })
}

/// The `Content-Disposition` of a file: `inline` when the route shows files
/// (`show_if_safe`) and the type is safe to show, else `attachment`; then the name, as
/// an ASCII fallback and, when that is not the name itself, as UTF-8 (RFC 6266).
pub fn content_disposition(content_type: &str, file_name: &str, show_if_safe: bool) -> String {
    let kind = if show_if_safe && safe_to_show(content_type) { "inline" } else { "attachment" };
    let ascii: String = file_name
        .chars()
        .map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' })
        .collect();
    if ascii == file_name {
        return format!("{kind}; filename=\"{ascii}\"");
    }
    let utf8 = percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{utf8}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_pdf_and_plain_text_with_a_charset_are_shown() {
        for safe in ["image/png", "IMAGE/JPEG", "image/gif", "application/pdf", "text/plain; charset=utf-8"] {
            assert!(safe_to_show(safe), "{safe}");
        }
        assert!(safe_to_show("text/plain;charset=\"us-ascii\""));
        for unsafe_ in [
            "text/html",
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "application/xml",
            "text/xml",
            "text/javascript",
            "text/plain",
            "text/plain; charset=",
            "application/octet-stream",
            "",
            "nonsense",
            "image/png+html",
        ] {
            assert!(!safe_to_show(unsafe_), "{unsafe_}");
        }
    }

    #[test]
    fn dispositions_are_attachments_unless_shown_and_safe() {
        assert_eq!(content_disposition("application/pdf", "report.pdf", true), "inline; filename=\"report.pdf\"");
        assert_eq!(content_disposition("application/pdf", "report.pdf", false), "attachment; filename=\"report.pdf\"");
        assert_eq!(content_disposition("text/html", "page.html", true), "attachment; filename=\"page.html\"");
        assert_eq!(content_disposition("image/svg+xml", "x.svg", true), "attachment; filename=\"x.svg\"");
        assert_eq!(
            content_disposition("audio/wav", "intake call.wav", false),
            "attachment; filename=\"intake call.wav\""
        );
    }

    #[test]
    fn any_name_gives_a_valid_header() {
        let d = content_disposition("application/pdf", "résumé \"final\".pdf", true);
        assert_eq!(d, "inline; filename=\"r_sum_ _final_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%2Epdf");
        let header_safe = |d: &str| d.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        assert!(header_safe(&d), "{d}");
        let d = content_disposition("text/html", "a\r\nSet-Cookie: x=1", true);
        assert!(d.starts_with("attachment; filename=\"a__Set-Cookie: x=1\"; filename*=UTF-8''a%0D%0ASet"), "{d}");
        assert!(header_safe(&d), "{d}");
    }
}
