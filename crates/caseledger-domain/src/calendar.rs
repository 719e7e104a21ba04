//! The district's working-day calendar: which days count towards a `working_days` time limit.
//!
//! Days are counted in China Standard Time (UTC+08:00, a fixed offset without daylight saving):
//! a day runs from 00:00 to 24:00 CST. A day is a working day when it is Monday to Friday and not
//! a listed holiday, or when it is a listed make-up working day (调休上班, usually a Saturday or
//! Sunday). Holidays and make-up days come from one data file per year (`config/calendar/<year>.toml`,
//! see [`CalendarYear`]); a year without a file falls back to plain Monday to Friday, and
//! [`WorkCalendar::covers`] tells operators which years are missing so they can warn.
//!
//! The time model: a working day contributes its whole 24 hours of working-day time, any other
//! day contributes nothing. "3 working days" is therefore 72 hours of working-day time, counted
//! from the instant the clock starts; a limit started on a weekend starts at the next working day.
//!
//! Architecture invariant: pure functions of their arguments. No IO, no clock; parsing a year file
//! takes its text, reading the file is the caller's business.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday,
};
use serde::Deserialize;

use crate::sla::{Limit, LimitUnit};

/// China Standard Time's offset from UTC, in hours.
const CST_OFFSET_HOURS: i64 = 8;

/// A day of working-day time.
const DAY: TimeDelta = TimeDelta::days(1);

/// Working-day calendar of the district. `Default` is Monday to Friday with no year loaded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkCalendar {
    /// Loaded years with where their dates come from.
    years: BTreeMap<i32, LoadedYear>,
    /// Days off that would otherwise be working days (or weekend days listed as holidays).
    holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days.
    makeup_workdays: BTreeSet<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
struct LoadedYear {
    source: String,
    provisional: bool,
}

/// One year's data file, as written in `config/calendar/<year>.toml`.
///
/// ```toml
/// year = 2026
/// source = "国务院办公厅关于2026年部分节假日安排的通知"
/// provisional = false          # optional; true while the official notice is not yet out
/// [[holiday]]
/// name = "春节"
/// dates = ["2026-02-15", "2026-02-16"]   # every day listed, no ranges
/// [[makeup_workday]]
/// date = "2026-02-14"
/// for = "春节"
/// ```
///
/// Dates are listed one by one rather than as ranges so each can be checked against the notice.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarYear {
    /// The year every date in the file belongs to.
    pub year: i32,
    /// Where the dates come from, e.g. the State Council notice.
    pub source: String,
    /// True when the dates are an estimate made before the official notice.
    #[serde(default)]
    pub provisional: bool,
    /// Public holidays (放假).
    #[serde(default)]
    pub holiday: Vec<Holiday>,
    /// Make-up working days (调休上班).
    #[serde(default)]
    pub makeup_workday: Vec<MakeupWorkday>,
}

/// A public holiday and the days off it brings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The holiday's name, e.g. `春节`.
    pub name: String,
    /// Every day off, one by one.
    pub dates: Vec<NaiveDate>,
}

/// A weekend day worked to make up for a holiday.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeupWorkday {
    /// The working day.
    pub date: NaiveDate,
    /// The holiday it makes up for.
    #[serde(rename = "for")]
    pub for_holiday: String,
}

/// Why calendar data was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The text is not a calendar year file.
    #[error("not a valid calendar year file: {0}")]
    Parse(String),
    /// The source is blank.
    #[error("calendar {year}: source must name where the dates come from")]
    BlankSource {
        /// The file's year.
        year: i32,
    },
    /// A date lies outside the file's year.
    #[error("calendar {year}: {date} is outside the year")]
    DateOutsideYear {
        /// The file's year.
        year: i32,
        /// The offending date.
        date: NaiveDate,
    },
    /// A date is listed both as a holiday and as a make-up working day.
    #[error("calendar {year}: {date} is listed both as a holiday and as a make-up working day")]
    HolidayAndMakeupWorkday {
        /// The file's year.
        year: i32,
        /// The offending date.
        date: NaiveDate,
    },
    /// A make-up working day is a weekday, which is a working day anyway.
    #[error(
        "calendar {year}: make-up working day {date} is a {weekday}, not a Saturday or Sunday"
    )]
    MakeupWorkdayNotWeekend {
        /// The file's year.
        year: i32,
        /// The offending date.
        date: NaiveDate,
        /// Its day of the week.
        weekday: Weekday,
    },
    /// Two files describe the same year.
    #[error("calendar {year} is loaded twice")]
    DuplicateYear {
        /// The repeated year.
        year: i32,
    },
}

impl CalendarYear {
    /// Checks the file on its own: a source, every date inside the year, no date both off and
    /// worked, make-up working days only on weekends.
    pub fn validate(&self) -> Result<(), CalendarError> {
        let year = self.year;
        if self.source.trim().is_empty() {
            return Err(CalendarError::BlankSource { year });
        }
        let holidays: BTreeSet<NaiveDate> = self
            .holiday
            .iter()
            .flat_map(|holiday| holiday.dates.iter().copied())
            .collect();
        for &date in &holidays {
            if date.year() != year {
                return Err(CalendarError::DateOutsideYear { year, date });
            }
        }
        for makeup in &self.makeup_workday {
            let date = makeup.date;
            if date.year() != year {
                return Err(CalendarError::DateOutsideYear { year, date });
            }
            if holidays.contains(&date) {
                return Err(CalendarError::HolidayAndMakeupWorkday { year, date });
            }
            if !is_weekend(date) {
                return Err(CalendarError::MakeupWorkdayNotWeekend {
                    year,
                    date,
                    weekday: date.weekday(),
                });
            }
        }
        Ok(())
    }
}

impl WorkCalendar {
    /// Builds a calendar from validated year files. A year given twice is an error.
    pub fn from_years(years: Vec<CalendarYear>) -> Result<Self, CalendarError> {
        let mut calendar = Self::default();
        for year in years {
            year.validate()?;
            if calendar.years.contains_key(&year.year) {
                return Err(CalendarError::DuplicateYear { year: year.year });
            }
            calendar.holidays.extend(
                year.holiday
                    .iter()
                    .flat_map(|holiday| holiday.dates.iter().copied()),
            );
            calendar
                .makeup_workdays
                .extend(year.makeup_workday.iter().map(|makeup| makeup.date));
            calendar.years.insert(
                year.year,
                LoadedYear {
                    source: year.source,
                    provisional: year.provisional,
                },
            );
        }
        Ok(calendar)
    }

    /// Parses one year file's TOML text (not validated yet: [`CalendarYear::validate`] or
    /// [`WorkCalendar::from_years`] does that).
    pub fn parse_year(toml_text: &str) -> Result<CalendarYear, CalendarError> {
        toml::from_str(toml_text)
            .map_err(|error| CalendarError::Parse(error.to_string().trim_end().to_owned()))
    }

    /// Whether `year` has a data file. Years without one count Monday to Friday as working days
    /// and know no holidays, so operators should warn about the current and next year.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Whether `year`'s file is marked provisional (an estimate before the official notice).
    pub fn is_provisional(&self, year: i32) -> bool {
        self.years
            .get(&year)
            .is_some_and(|loaded| loaded.provisional)
    }

    /// Where `year`'s dates come from, if the year is loaded.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|loaded| loaded.source.as_str())
    }

    /// The loaded years, ascending.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Whether `date` (a CST calendar day) is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.makeup_workdays.contains(&date) {
            return true;
        }
        !is_weekend(date) && !self.holidays.contains(&date)
    }

    /// Adds `limit` to `from`: wall-clock units add plain durations; `WorkingDays` counts only
    /// working-day time: a working day contributes its 24 h, other days nothing. So 3 working
    /// days from Friday 15:00 (CST) is Wednesday 15:00 when Sat/Sun are off; from Saturday
    /// 10:00 it is Wednesday 24:00 (= Thursday 00:00) i.e. the clock starts at the next working day.
    ///
    /// A working-day result that falls on the end of a working day is given as the start of the
    /// next working day (the time between is not working time), so 5 working days from Monday
    /// 00:00 is the next Monday 00:00. A zero limit returns `from`. Results beyond the range of
    /// `DateTime<Utc>` saturate at its maximum.
    pub fn add(&self, from: DateTime<Utc>, limit: Limit) -> DateTime<Utc> {
        let amount = i64::from(limit.amount);
        let duration = match limit.unit {
            LimitUnit::Seconds => TimeDelta::seconds(amount),
            LimitUnit::Minutes => TimeDelta::minutes(amount),
            LimitUnit::Hours => TimeDelta::hours(amount),
            LimitUnit::WorkingDays => {
                return self.add_working_time(from, TimeDelta::seconds(amount * DAY.num_seconds()))
            }
        };
        from.checked_add_signed(duration)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Working-day seconds between two instants (0 if `to <= from`).
    pub fn working_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.working_time_between(from, to).num_seconds()
    }

    /// Moves `due` later by the clock time that passed while a case was paused from `paused_at` to
    /// `resumed_at`: for wall-clock units the plain duration, for `WorkingDays` the working-day
    /// time in that interval (added as working-day time after `due`). An empty or reversed
    /// interval leaves `due` unchanged.
    pub fn shift(
        &self,
        due: DateTime<Utc>,
        paused_at: DateTime<Utc>,
        resumed_at: DateTime<Utc>,
        unit: LimitUnit,
    ) -> DateTime<Utc> {
        if resumed_at <= paused_at {
            return due;
        }
        match unit {
            LimitUnit::Seconds | LimitUnit::Minutes | LimitUnit::Hours => due
                .checked_add_signed(resumed_at - paused_at)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            LimitUnit::WorkingDays => {
                self.add_working_time(due, self.working_time_between(paused_at, resumed_at))
            }
        }
    }

    /// The earliest instant after `from` with `amount` of working-day time between them, moved to
    /// the start of the next working day when it falls on the end of one.
    fn add_working_time(&self, from: DateTime<Utc>, amount: TimeDelta) -> DateTime<Utc> {
        if amount <= TimeDelta::zero() {
            return from;
        }
        let local = to_cst(from);
        let mut day = local.date();
        let mut offset = local - day.and_time(NaiveTime::MIN);
        let mut remaining = amount;
        loop {
            if offset.is_zero() {
                // Whole weeks of a year without a file hold exactly five working days each:
                // skip them instead of walking day by day, so absurd limits stay cheap.
                let weeks = (remaining.num_seconds() / (5 * DAY.num_seconds()))
                    .min(self.unloaded_days_from(day) / 7);
                if weeks > 0 {
                    let Some(next) = day.checked_add_days(Days::new(weeks as u64 * 7)) else {
                        return DateTime::<Utc>::MAX_UTC;
                    };
                    day = next;
                    remaining -= TimeDelta::seconds(weeks * 5 * DAY.num_seconds());
                    continue;
                }
            }
            if self.is_working_day(day) {
                let available = DAY - offset;
                if remaining < available {
                    return day
                        .and_time(NaiveTime::MIN)
                        .checked_add_signed(offset + remaining)
                        .map_or(DateTime::<Utc>::MAX_UTC, from_cst);
                }
                remaining -= available;
            }
            let Some(next) = day.succ_opt() else {
                return DateTime::<Utc>::MAX_UTC;
            };
            day = next;
            offset = TimeDelta::zero();
        }
    }

    /// Working-day time between two instants, zero if `to <= from`.
    fn working_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        let (from, to) = (to_cst(from), to_cst(to));
        let (first_day, last_day) = (from.date(), to.date());
        let mut total = TimeDelta::zero();
        let mut day = first_day;
        loop {
            if day > first_day && day < last_day {
                let whole_days_left = (last_day - day).num_days();
                let weeks = (whole_days_left / 7).min(self.unloaded_days_from(day) / 7);
                if weeks > 0 {
                    total += TimeDelta::seconds(weeks * 5 * DAY.num_seconds());
                    match day.checked_add_days(Days::new(weeks as u64 * 7)) {
                        Some(next) => day = next,
                        None => break,
                    }
                    continue;
                }
            }
            if self.is_working_day(day) {
                let day_start = day.and_time(NaiveTime::MIN);
                let start = if day == first_day {
                    from - day_start
                } else {
                    TimeDelta::zero()
                };
                let end = if day == last_day { to - day_start } else { DAY };
                if end > start {
                    total += end - start;
                }
            }
            if day >= last_day {
                break;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }

    /// How many days from `day` on (inclusive) lie before the next loaded year, i.e. follow the
    /// plain Monday-to-Friday rule; `i64::MAX` when no later year is loaded.
    fn unloaded_days_from(&self, day: NaiveDate) -> i64 {
        match self.years.range(day.year()..).next() {
            None => i64::MAX,
            Some((&year, _)) if year == day.year() => 0,
            Some((&year, _)) => {
                NaiveDate::from_ymd_opt(year, 1, 1).map_or(0, |start| (start - day).num_days())
            }
        }
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The CST wall-clock time of an instant, saturating at the end of chrono's range.
fn to_cst(instant: DateTime<Utc>) -> NaiveDateTime {
    instant
        .naive_utc()
        .checked_add_signed(TimeDelta::hours(CST_OFFSET_HOURS))
        .unwrap_or(NaiveDateTime::MAX)
}

/// The instant of a CST wall-clock time, saturating at the ends of chrono's range.
fn from_cst(local: NaiveDateTime) -> DateTime<Utc> {
    local
        .checked_sub_signed(TimeDelta::hours(CST_OFFSET_HOURS))
        .map_or(DateTime::<Utc>::MIN_UTC, |utc| utc.and_utc())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    const YEAR_2026: &str = include_str!("../../../config/calendar/2026.toml");
    const YEAR_2027: &str = include_str!("../../../config/calendar/2027.toml");

    fn shipped() -> WorkCalendar {
        let years = [YEAR_2026, YEAR_2027]
            .into_iter()
            .map(|text| WorkCalendar::parse_year(text).unwrap())
            .collect();
        WorkCalendar::from_years(years).unwrap()
    }

    /// An instant given as CST wall-clock time.
    fn cst(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        let local = NaiveDate::from_ymd_opt(year, month, day)
            .unwrap()
            .and_hms_opt(hour, minute, 0)
            .unwrap();
        from_cst(local)
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn working_days(amount: u32) -> Limit {
        Limit::new(amount, LimitUnit::WorkingDays)
    }

    fn year_file(body: &str) -> String {
        format!("year = 2026\nsource = \"test\"\n{body}")
    }

    #[test]
    fn days_are_counted_in_china_standard_time() {
        // 2026-01-09 17:00 UTC is Saturday 01:00 CST: not working time.
        let calendar = WorkCalendar::default();
        let friday_evening_utc = Utc.with_ymd_and_hms(2026, 1, 9, 15, 0, 0).unwrap();
        let saturday_early_utc = Utc.with_ymd_and_hms(2026, 1, 9, 17, 0, 0).unwrap();
        assert_eq!(
            calendar.working_seconds_between(friday_evening_utc, saturday_early_utc),
            3600
        );
    }

    #[test]
    fn three_working_days_from_friday_afternoon_is_wednesday_afternoon() {
        let calendar = WorkCalendar::default();
        let friday = cst(2026, 1, 9, 15, 0);
        assert_eq!(
            calendar.add(friday, working_days(3)),
            cst(2026, 1, 14, 15, 0)
        );
    }

    #[test]
    fn a_limit_started_on_a_weekend_starts_at_the_next_working_day() {
        let calendar = WorkCalendar::default();
        let saturday = cst(2026, 1, 10, 10, 0);
        assert_eq!(
            calendar.add(saturday, working_days(3)),
            cst(2026, 1, 15, 0, 0)
        );
    }

    #[test]
    fn a_due_at_the_end_of_a_working_day_is_the_start_of_the_next_one() {
        let calendar = WorkCalendar::default();
        let monday = cst(2026, 1, 5, 0, 0);
        assert_eq!(
            calendar.add(monday, working_days(5)),
            cst(2026, 1, 12, 0, 0)
        );
    }

    #[test]
    fn shipped_2026_file_knows_spring_festival_and_national_day() {
        let calendar = shipped();
        assert!(calendar.covers(2026) && calendar.covers(2027) && !calendar.covers(2028));
        assert!(!calendar.is_provisional(2026));
        assert!(calendar.is_provisional(2027));
        assert!(!calendar.is_working_day(date("2026-02-16")));
        assert!(!calendar.is_working_day(date("2026-02-23")));
        assert!(
            calendar.is_working_day(date("2026-02-14")),
            "make-up Saturday"
        );
        assert!(
            calendar.is_working_day(date("2026-02-28")),
            "make-up Saturday"
        );
        assert!(!calendar.is_working_day(date("2026-10-01")));
        assert!(
            calendar.is_working_day(date("2026-09-20")),
            "make-up Sunday"
        );
        assert!(
            calendar.is_working_day(date("2026-10-10")),
            "make-up Saturday"
        );
        assert!(!calendar.is_working_day(date("2026-10-11")));
        assert!(calendar.is_working_day(date("2026-10-08")));
    }

    #[test]
    fn working_days_skip_the_spring_festival_and_count_the_makeup_saturday() {
        // Friday 13 Feb 15:00: 9 h on Friday, 24 h on the make-up Saturday 14 Feb, the holiday
        // 15–23 Feb, 24 h on Tuesday 24 Feb, and the last 15 h on Wednesday 25 Feb.
        let calendar = shipped();
        let friday = cst(2026, 2, 13, 15, 0);
        assert_eq!(
            calendar.add(friday, working_days(3)),
            cst(2026, 2, 25, 15, 0)
        );
    }

    #[test]
    fn working_days_skip_national_day() {
        let calendar = shipped();
        let wednesday = cst(2026, 9, 30, 10, 0);
        assert_eq!(
            calendar.add(wednesday, working_days(1)),
            cst(2026, 10, 8, 10, 0)
        );
        // Friday 9 Oct and the make-up Saturday 10 Oct; Sunday is off, so Monday 00:00.
        assert_eq!(
            calendar.add(cst(2026, 10, 9, 0, 0), working_days(2)),
            cst(2026, 10, 12, 0, 0)
        );
    }

    #[test]
    fn unloaded_years_fall_back_to_monday_to_friday() {
        let calendar = shipped();
        // 1 Jan 2028 is a Saturday; 3 Jan a Monday.
        assert!(!calendar.is_working_day(date("2028-01-01")));
        assert!(calendar.is_working_day(date("2028-01-03")));
        assert_eq!(
            calendar.add(cst(2028, 1, 1, 12, 0), working_days(1)),
            cst(2028, 1, 4, 0, 0)
        );
    }

    #[test]
    fn wall_clock_units_add_plain_durations() {
        let calendar = shipped();
        let start = cst(2026, 2, 14, 23, 0);
        let cases = [
            (
                Limit::new(90, LimitUnit::Seconds),
                cst(2026, 2, 14, 23, 1) + TimeDelta::seconds(30),
            ),
            (Limit::new(1, LimitUnit::Minutes), cst(2026, 2, 14, 23, 1)),
            (Limit::new(24, LimitUnit::Hours), cst(2026, 2, 15, 23, 0)),
        ];
        for (limit, expected) in cases {
            assert_eq!(calendar.add(start, limit), expected, "{limit}");
        }
    }

    #[test]
    fn shift_adds_the_working_time_of_the_pause() {
        let calendar = shipped();
        let due = cst(2026, 2, 12, 12, 0); // Thursday
                                           // Paused Friday 13 Feb 12:00 until Wednesday 25 Feb 12:00: 12 h Friday, 24 h on the
                                           // make-up Saturday, 24 h Tuesday, 12 h Wednesday = 3 working days.
        let shifted = calendar.shift(
            due,
            cst(2026, 2, 13, 12, 0),
            cst(2026, 2, 25, 12, 0),
            LimitUnit::WorkingDays,
        );
        assert_eq!(shifted, calendar.add(due, working_days(3)));
        // From Thursday 12:00: 12 h Thursday, 24 h Friday, 24 h make-up Saturday, then the
        // holiday, and the last 12 h on Tuesday 24 Feb.
        assert_eq!(shifted, cst(2026, 2, 24, 12, 0));
    }

    #[test]
    fn a_pause_inside_the_spring_festival_does_not_move_a_working_day_due() {
        let calendar = shipped();
        let due = cst(2026, 3, 2, 9, 0);
        let shifted = calendar.shift(
            due,
            cst(2026, 2, 15, 8, 0),
            cst(2026, 2, 23, 20, 0),
            LimitUnit::WorkingDays,
        );
        assert_eq!(shifted, due);
    }

    #[test]
    fn shift_of_wall_clock_limits_adds_the_plain_pause() {
        let calendar = shipped();
        let due = cst(2026, 2, 12, 12, 0);
        let shifted = calendar.shift(
            due,
            cst(2026, 2, 14, 0, 0),
            cst(2026, 2, 16, 6, 0),
            LimitUnit::Hours,
        );
        assert_eq!(shifted, cst(2026, 2, 14, 18, 0));
        assert_eq!(
            calendar.shift(
                due,
                cst(2026, 2, 16, 0, 0),
                cst(2026, 2, 15, 0, 0),
                LimitUnit::Hours
            ),
            due,
            "a reversed interval changes nothing"
        );
    }

    #[test]
    fn absurd_limits_saturate_instead_of_panicking() {
        let calendar = shipped();
        let start = cst(2026, 1, 5, 9, 0);
        assert_eq!(
            calendar.add(start, working_days(u32::MAX)),
            DateTime::<Utc>::MAX_UTC
        );
        let huge = calendar.add(start, Limit::new(u32::MAX, LimitUnit::Hours));
        assert!(huge > start);
        assert_eq!(
            calendar.add(DateTime::<Utc>::MAX_UTC, Limit::new(1, LimitUnit::Seconds)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            calendar.add(DateTime::<Utc>::MAX_UTC, working_days(1)),
            DateTime::<Utc>::MAX_UTC
        );
        let far = calendar.add(start, working_days(1_000_000));
        assert_eq!(
            calendar.working_seconds_between(start, far),
            1_000_000 * 86_400
        );
        assert_eq!(
            calendar.shift(
                start,
                DateTime::<Utc>::MIN_UTC,
                DateTime::<Utc>::MAX_UTC,
                LimitUnit::WorkingDays
            ),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn a_date_both_off_and_worked_is_refused() {
        let text = year_file(
            "[[holiday]]\nname = \"x\"\ndates = [\"2026-02-14\"]\n\
             [[makeup_workday]]\ndate = \"2026-02-14\"\nfor = \"x\"\n",
        );
        let year = WorkCalendar::parse_year(&text).unwrap();
        assert_eq!(
            WorkCalendar::from_years(vec![year]),
            Err(CalendarError::HolidayAndMakeupWorkday {
                year: 2026,
                date: date("2026-02-14")
            })
        );
    }

    #[test]
    fn a_date_outside_the_year_is_refused() {
        let text = year_file("[[holiday]]\nname = \"元旦\"\ndates = [\"2027-01-01\"]\n");
        let year = WorkCalendar::parse_year(&text).unwrap();
        assert_eq!(
            year.validate(),
            Err(CalendarError::DateOutsideYear {
                year: 2026,
                date: date("2027-01-01")
            })
        );
    }

    #[test]
    fn a_makeup_workday_on_a_weekday_is_refused() {
        let text = year_file("[[makeup_workday]]\ndate = \"2026-02-13\"\nfor = \"春节\"\n");
        let year = WorkCalendar::parse_year(&text).unwrap();
        let error = year.validate().unwrap_err();
        assert_eq!(
            error,
            CalendarError::MakeupWorkdayNotWeekend {
                year: 2026,
                date: date("2026-02-13"),
                weekday: Weekday::Fri
            }
        );
        assert_eq!(
            error.to_string(),
            "calendar 2026: make-up working day 2026-02-13 is a Fri, not a Saturday or Sunday"
        );
    }

    #[test]
    fn a_year_loaded_twice_is_refused() {
        let year = WorkCalendar::parse_year(YEAR_2026).unwrap();
        assert_eq!(
            WorkCalendar::from_years(vec![year.clone(), year]),
            Err(CalendarError::DuplicateYear { year: 2026 })
        );
    }

    #[test]
    fn a_blank_source_and_unknown_fields_are_refused() {
        let blank = WorkCalendar::parse_year("year = 2026\nsource = \" \"\n").unwrap();
        assert_eq!(
            blank.validate(),
            Err(CalendarError::BlankSource { year: 2026 })
        );
        let typo = WorkCalendar::parse_year(&year_file("[[holidays]]\nname = \"x\"\n"));
        assert!(matches!(typo, Err(CalendarError::Parse(message)) if message.contains("holidays")));
    }

    // Property tests ---------------------------------------------------------------------------

    /// Instants from 2025 to 2029, so walks cross loaded years, unloaded years and the jumps
    /// over whole unloaded weeks.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (1_735_660_800_i64..1_893_427_200)
            .prop_map(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0).unwrap())
    }

    proptest! {
        #[test]
        fn adding_working_days_lands_after_exactly_that_much_working_time(
            from in instant(),
            amount in 0_u32..800,
        ) {
            let calendar = shipped();
            let due = calendar.add(from, working_days(amount));
            prop_assert!(due >= from);
            prop_assert_eq!(
                calendar.working_seconds_between(from, due),
                i64::from(amount) * 86_400
            );
        }

        #[test]
        fn adding_n_then_m_working_days_equals_adding_n_plus_m(
            from in instant(),
            n in 0_u32..400,
            m in 0_u32..400,
        ) {
            let calendar = shipped();
            let stepwise = calendar.add(calendar.add(from, working_days(n)), working_days(m));
            prop_assert_eq!(stepwise, calendar.add(from, working_days(n + m)));
        }

        #[test]
        fn without_holidays_five_working_days_from_monday_midnight_is_next_monday(
            weeks in 0_i64..2_000,
            extra in 0_u32..20,
        ) {
            let calendar = WorkCalendar::default();
            let monday = cst(2026, 1, 5, 0, 0) + TimeDelta::weeks(weeks);
            prop_assert_eq!(
                calendar.add(monday, working_days(5 * (extra + 1))),
                monday + TimeDelta::weeks(i64::from(extra) + 1)
            );
        }

        #[test]
        fn shifting_by_a_pause_without_working_time_leaves_the_due_unchanged(
            due in instant(),
            weekend in 0_i64..150,
            start_hour in 0_i64..48,
            length_hours in 0_i64..48,
        ) {
            let calendar = shipped();
            // A pause inside one Saturday–Sunday of 2028 (no file: plain weekends).
            let saturday = cst(2028, 1, 1, 0, 0) + TimeDelta::weeks(weekend);
            let paused_at = saturday + TimeDelta::hours(start_hour);
            let resumed_at = (paused_at + TimeDelta::hours(length_hours))
                .min(saturday + TimeDelta::days(2));
            prop_assert_eq!(calendar.working_seconds_between(paused_at, resumed_at), 0);
            prop_assert_eq!(
                calendar.shift(due, paused_at, resumed_at, LimitUnit::WorkingDays),
                due
            );
        }

        #[test]
        fn working_time_is_additive(
            a in instant(),
            b in instant(),
            c in instant(),
        ) {
            let calendar = shipped();
            let mut points = [a, b, c];
            points.sort();
            let [a, b, c] = points;
            prop_assert_eq!(
                calendar.working_seconds_between(a, b) + calendar.working_seconds_between(b, c),
                calendar.working_seconds_between(a, c)
            );
        }

        #[test]
        fn a_working_day_shift_adds_the_working_time_of_the_pause(
            due in instant(),
            paused_at in instant(),
            pause_seconds in 0_i64..(40 * 86_400),
        ) {
            let calendar = shipped();
            let resumed_at = paused_at + TimeDelta::seconds(pause_seconds);
            let shifted = calendar.shift(due, paused_at, resumed_at, LimitUnit::WorkingDays);
            prop_assert!(shifted >= due);
            prop_assert_eq!(
                calendar.working_seconds_between(due, shifted),
                calendar.working_seconds_between(paused_at, resumed_at)
            );
        }
    }
}
