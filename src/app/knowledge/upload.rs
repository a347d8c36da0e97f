//! What an uploaded file contributes: its text, read at upload time. Text files (txt, md, html,
//! csv) as before; PDF and DOCX through the hand-written extractors (`knowledge::pdf`,
//! `knowledge::docx`), checked by content, not only by name.
//!
//! Extraction runs in the upload request, not in the queue consumer, because the raw file
//! cannot be kept for the consumer: uploads go up to 10 MiB, a D1 value holds at most about
//! 2 MB and a Convex document 1 MiB, and the worker has no blob store bound. What is kept is the
//! extracted text (at most 1.5 million characters), as for text files; the consumer chunks and
//! embeds it off the request path. Extraction itself is quick (inflation is the runtime's
//! native code; a 10 MiB PDF is read in well under a second), the slow part stays queued.
//! A file whose text cannot be extracted (damaged, encrypted, a scan, not what its name says)
//! becomes a `failed` source with the reason, like any other failed ingestion.

use super::{check_file_name, file_text, NewSource, MAX_NAME_CHARS, MAX_TEXT_CHARS};
use crate::error::ApiError;
use crate::knowledge::inflate::Inflate;
use crate::knowledge::{docx, pdf};

/// Most characters of text one upload may keep (a D1 row holds at most 2 MB).
pub const MAX_FILE_TEXT_CHARS: usize = MAX_TEXT_CHARS * 3;

/// The new source of an uploaded file `name` with `bytes`: its text, or (for a PDF or DOCX
/// whose text cannot be read) a failed source with the reason. A bad text file is refused.
pub async fn file_source<I: Inflate>(
    name: &str,
    bytes: Vec<u8>,
    inflater: &I,
) -> Result<NewSource, ApiError> {
    check_file_name(name)?;
    let short_name: String = name.chars().take(MAX_NAME_CHARS).collect();
    let lower = name.to_ascii_lowercase();
    let extracted = if lower.ends_with(".pdf") {
        Some(pdf::extract(&bytes, inflater).await)
    } else if lower.ends_with(".docx") {
        Some(if bytes.starts_with(b"PK\x03\x04") {
            docx::extract(&bytes, inflater).await
        } else {
            Err("The file is not a DOCX document (it is not a ZIP archive).".to_owned())
        })
    } else {
        None
    };
    let text = match extracted {
        Some(Ok(text)) if text.trim().is_empty() => {
            return Ok(NewSource::Unreadable {
                name: short_name,
                reason: "The document has no text to index.".into(),
            })
        }
        Some(Ok(text)) => text,
        Some(Err(reason)) => {
            return Ok(NewSource::Unreadable {
                name: short_name,
                reason,
            })
        }
        None => {
            let text = String::from_utf8(bytes)
                .map_err(|_| ApiError::invalid("file", "The file is not UTF-8 text."))?;
            let text = file_text(name, &text);
            if text.trim().is_empty() {
                return Err(ApiError::invalid("file", "The file has no text."));
            }
            text
        }
    };
    if text.chars().count() > MAX_FILE_TEXT_CHARS {
        return Err(ApiError::invalid(
            "file",
            format!("The file's text is longer than {MAX_FILE_TEXT_CHARS} characters: split it."),
        ));
    }
    Ok(NewSource::File {
        name: short_name,
        text,
    })
}
