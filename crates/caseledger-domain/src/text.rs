//! Bounded free-text newtypes. Length is counted in characters (Chinese text counts one per
//! character), leading and trailing white space is trimmed.

use serde::{Deserialize, Serialize};

/// The text is blank or longer than allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Required text is blank.
    #[error("must not be blank")]
    Blank,
    /// The text exceeds the limit.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit in characters.
        max: usize,
    },
}

/// Text of 1 to `MAX` characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BoundedText<const MAX: usize>(String);

impl<const MAX: usize> BoundedText<MAX> {
    /// Trims `text` and checks it is not blank and at most `MAX` characters.
    pub fn parse(text: impl AsRef<str>) -> Result<Self, TextError> {
        let trimmed = text.as_ref().trim();
        if trimmed.is_empty() {
            return Err(TextError::Blank);
        }
        if trimmed.chars().count() > MAX {
            return Err(TextError::TooLong { max: MAX });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> TryFrom<String> for BoundedText<MAX> {
    type Error = TextError;
    fn try_from(text: String) -> Result<Self, TextError> {
        Self::parse(text)
    }
}

impl<const MAX: usize> From<BoundedText<MAX>> for String {
    fn from(text: BoundedText<MAX>) -> String {
        text.0
    }
}

/// A case title: 1 to 200 characters.
pub type Title = BoundedText<200>;
/// A case description, response text, note or comment: 1 to 20,000 characters.
pub type LongText = BoundedText<20_000>;
/// A short label such as a category: 1 to 64 characters.
pub type Label = BoundedText<64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_counted_in_characters() {
        assert_eq!(Title::parse("  融资难  ").unwrap().as_str(), "融资难");
        assert_eq!(Title::parse(" \n "), Err(TextError::Blank));
        assert!(BoundedText::<3>::parse("三个字").is_ok());
        assert_eq!(
            BoundedText::<3>::parse("四个汉字"),
            Err(TextError::TooLong { max: 3 })
        );
    }
}
