//! BCP-47 language tags (RFC 5646): syntax check and case normalisation.

/// Maximum tag length in characters. RFC 5646 section 4.4.1 requires
/// implementations to support at least 35 characters, and the database
/// column has the same limit.
pub const MAX_LEN: usize = 35;

/// Grandfathered tags (RFC 5646 section 2.2.8, irregular and regular), in
/// lowercase. They are valid although they do not follow the grammar.
const GRANDFATHERED: [&str; 26] = [
    "en-gb-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-be-fr",
    "sgn-be-nl",
    "sgn-ch-de",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// Checks that `tag` is a well-formed BCP-47 tag without repeated variants or
/// extension singletons, and returns it in the case RFC 5646 section 2.1.1
/// recommends (`en-US`, `zh-Hant-TW`, `sr-Latn`), so that tags differing only
/// in case are stored alike. Returns `None` for anything else.
///
/// NOTE: subtags are not checked against the IANA Language Subtag Registry,
/// so a well-formed but unregistered tag such as `qq-ZZ` is accepted.
pub fn normalize(tag: &str) -> Option<String> {
    if tag.is_empty() || tag.len() > MAX_LEN || !tag.is_ascii() {
        return None;
    }
    let lower = tag.to_ascii_lowercase();
    let subtags: Vec<&str> = lower.split('-').collect();
    let shape_ok = subtags
        .iter()
        .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !shape_ok {
        return None;
    }

    let well_formed = GRANDFATHERED.contains(&lower.as_str()) || follows_grammar(&subtags);
    well_formed.then(|| recommended_case(&subtags))
}

/// Checks the `langtag` and `privateuse` productions of RFC 5646 section 2.1
/// on lowercase subtags of 1 to 8 letters or digits.
fn follows_grammar(subtags: &[&str]) -> bool {
    let mut rest = subtags;

    if rest.first() == Some(&"x") {
        return is_private_use(rest);
    }

    // language: 2-3 letters with up to three 3-letter extlangs, or 4-8 letters.
    let Some((language, tail)) = rest.split_first() else {
        return false;
    };
    if !is_alpha(language) || language.len() == 1 {
        return false;
    }
    rest = tail;
    if language.len() <= 3 {
        let mut extlangs = 0;
        while extlangs < 3 && rest.first().is_some_and(|s| s.len() == 3 && is_alpha(s)) {
            rest = &rest[1..];
            extlangs += 1;
        }
    }

    // script: 4 letters.
    if rest.first().is_some_and(|s| s.len() == 4 && is_alpha(s)) {
        rest = &rest[1..];
    }

    // region: 2 letters or 3 digits.
    if rest
        .first()
        .is_some_and(|s| (s.len() == 2 && is_alpha(s)) || (s.len() == 3 && is_digit(s)))
    {
        rest = &rest[1..];
    }

    // variants: 5-8 characters, or 4 starting with a digit; no repeats.
    let mut variants: Vec<&str> = Vec::new();
    while let Some(subtag) = rest.first() {
        let is_variant =
            subtag.len() >= 5 || (subtag.len() == 4 && subtag.as_bytes()[0].is_ascii_digit());
        if !is_variant {
            break;
        }
        if variants.contains(subtag) {
            return false;
        }
        variants.push(subtag);
        rest = &rest[1..];
    }

    // extensions: a singleton other than "x", then subtags of 2-8 characters;
    // each singleton at most once.
    let mut singletons: Vec<&str> = Vec::new();
    while let Some(singleton) = rest.first() {
        if singleton.len() != 1 || *singleton == "x" {
            break;
        }
        if singletons.contains(singleton) {
            return false;
        }
        singletons.push(singleton);
        rest = &rest[1..];

        let body_len = rest.iter().take_while(|s| s.len() >= 2).count();
        if body_len == 0 {
            return false;
        }
        rest = &rest[body_len..];
    }

    rest.is_empty() || is_private_use(rest)
}

/// `x` followed by one or more subtags of 1 to 8 characters.
fn is_private_use(subtags: &[&str]) -> bool {
    subtags.first() == Some(&"x") && subtags.len() >= 2
}

/// Lowercase, except that after the first subtag and before any singleton,
/// 2-letter subtags (regions) are uppercase and 4-letter subtags (scripts)
/// are titlecase.
fn recommended_case(subtags: &[&str]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(subtags.len());
    let mut after_singleton = false;
    for (index, subtag) in subtags.iter().enumerate() {
        if subtag.len() == 1 {
            after_singleton = true;
        }
        let cased = if index == 0 || after_singleton || !is_alpha(subtag) {
            subtag.to_string()
        } else if subtag.len() == 2 {
            subtag.to_ascii_uppercase()
        } else if subtag.len() == 4 {
            let (first, tail) = subtag.split_at(1);
            format!("{}{tail}", first.to_ascii_uppercase())
        } else {
            subtag.to_string()
        };
        out.push(cased);
    }
    out.join("-")
}

fn is_alpha(subtag: &str) -> bool {
    subtag.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_digit(subtag: &str) -> bool {
    subtag.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_tags_normalize() {
        let cases = [
            ("en", "en"),
            ("EN", "en"),
            ("en-us", "en-US"),
            ("pt-BR", "pt-BR"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("sr-LATN", "sr-Latn"),
            ("es-419", "es-419"),
            ("zh-yue-HK", "zh-yue-HK"),
            ("de-CH-1901", "de-CH-1901"),
            ("sl-rozaj-biske", "sl-rozaj-biske"),
            ("en-US-u-islamcal", "en-US-u-islamcal"),
            ("en-a-bbb-x-a-ccc", "en-a-bbb-x-a-ccc"),
            ("de-ch-x-phonebk", "de-CH-x-phonebk"),
            ("x-whatever", "x-whatever"),
            ("i-klingon", "i-klingon"),
            ("en-gb-oed", "en-GB-oed"),
            ("hy-Latn-IT-arevela", "hy-Latn-IT-arevela"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn malformed_tags_rejected() {
        let cases = [
            "",
            "e",
            "englishlanguage",
            "en_US",
            "en-",
            "-en",
            "en--US",
            "123",
            "en-US-",
            "de-419-DE",
            "a-DE",
            "ar-a-aaa-b-bbb-a-ccc",
            "de-1901-1901",
            "en-a",
            "en-x",
            "x",
            "en-US-x-toolongsubtag",
            "français",
            "en US",
            "zh-Latn-Hant",
        ];
        for input in cases {
            assert_eq!(normalize(input), None, "{input:?} should be rejected");
        }
    }

    #[test]
    fn length_limit_applies() {
        let at_limit = "en-x-aaaaaaaa-bbbbbbbb-cccccccc-ddd";
        let over_limit = format!("{at_limit}d");
        assert_eq!(at_limit.len(), MAX_LEN);

        assert!(normalize(at_limit).is_some(), "35 characters should pass");
        assert!(
            normalize(&over_limit).is_none(),
            "36 characters should fail"
        );
    }
}
