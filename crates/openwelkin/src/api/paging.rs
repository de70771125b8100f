//! Paging requests (`page`, `size`, `sort`) and the envelopes lists answer with, written
//! once: the Spring page and the `{data, metaInfo}` page. Every stop key (`last`,
//! `lastPage`) is always present: clients loop until they see it.

use super::error::ApiError;
use super::params::Params;
use crate::store::query::SortColumn;
use serde::Serialize;
use utoipa::ToSchema;

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 1000;

#[derive(Clone, Debug)]
pub struct PageRequest {
    pub page: i64,
    pub size: i64,
    pub sorts: Vec<SortColumn>,
}

impl PageRequest {
    /// Reads `page`, `size` and `sort=field,asc|desc` (repeatable); `column_of` maps a
    /// field the resource can sort on to its column.
    pub fn parse(params: &Params, column_of: fn(&str) -> Option<&'static str>) -> Result<Self, ApiError> {
        let page = params.int("page")?.unwrap_or(0);
        if page < 0 {
            return Err(ApiError::invalid_param("page", "must be 0 or more"));
        }
        let size = params.int("size")?.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::invalid_param("size", format!("must be between 1 and {MAX_PAGE_SIZE}")));
        }
        if page.checked_mul(size).is_none_or(|o| o > i64::from(i32::MAX)) {
            return Err(ApiError::invalid_param("page", "is too large"));
        }
        let mut sorts = Vec::new();
        for spec in params.all("sort").filter(|s| !s.trim().is_empty()) {
            let mut parts = spec.split(',').map(str::trim);
            let field = parts.next().unwrap_or_default();
            let column =
                column_of(field).ok_or_else(|| ApiError::invalid_param("sort", format!("cannot sort by {field:?}")))?;
            let descending = match parts.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(ApiError::invalid_param("sort", format!("direction {other:?} is not asc or desc")))
                }
            };
            sorts.push(SortColumn { column, descending });
        }
        Ok(PageRequest { page, size, sorts })
    }

    pub fn offset(&self) -> i64 {
        self.page * self.size
    }

    fn total_pages(&self, total: i64) -> i64 {
        (total + self.size - 1) / self.size
    }
}

#[derive(Debug, Serialize, ToSchema, Clone, Copy)]
pub struct SortState {
    pub sorted: bool,
    pub unsorted: bool,
    pub empty: bool,
}

impl SortState {
    fn of(req: &PageRequest) -> Self {
        let sorted = !req.sorts.is_empty();
        SortState { sorted, unsorted: !sorted, empty: !sorted }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pageable {
    pub sort: SortState,
    pub page_number: i64,
    pub page_size: i64,
    pub offset: i64,
    pub paged: bool,
    pub unpaged: bool,
}

/// Spring Data's `Page`, as Welkin returns patients, SMS, emails, calendar events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpringPage<T> {
    pub content: Vec<T>,
    pub pageable: Pageable,
    pub last: bool,
    pub total_elements: i64,
    pub total_pages: i64,
    pub sort: SortState,
    pub first: bool,
    pub number: i64,
    pub number_of_elements: i64,
    pub size: i64,
    pub empty: bool,
}

impl<T> SpringPage<T> {
    pub fn new(content: Vec<T>, req: &PageRequest, total: i64) -> Self {
        let sort = SortState::of(req);
        let total_pages = req.total_pages(total);
        let n = content.len() as i64;
        SpringPage {
            pageable: Pageable {
                sort,
                page_number: req.page,
                page_size: req.size,
                offset: req.offset(),
                paged: true,
                unpaged: false,
            },
            last: req.page + 1 >= total_pages,
            total_elements: total,
            total_pages,
            sort,
            first: req.page == 0,
            number: req.page,
            number_of_elements: n,
            size: req.size,
            empty: n == 0,
            content,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetaInfo {
    pub page: i64,
    pub page_size: i64,
    pub total_elements: i64,
    pub number_of_elements: i64,
    pub last_page: bool,
    pub first_page: bool,
    pub total_pages: i64,
}

/// `{data, metaInfo}`, as Welkin returns users, encounters, audits.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetaInfoPage<T> {
    pub data: Vec<T>,
    pub meta_info: MetaInfo,
}

impl<T> MetaInfoPage<T> {
    pub fn new(data: Vec<T>, req: &PageRequest, total: i64) -> Self {
        let total_pages = req.total_pages(total);
        MetaInfoPage {
            meta_info: MetaInfo {
                page: req.page,
                page_size: req.size,
                total_elements: total,
                number_of_elements: data.len() as i64,
                last_page: req.page + 1 >= total_pages,
                first_page: req.page == 0,
                total_pages,
            },
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(page: i64, size: i64) -> PageRequest {
        PageRequest { page, size, sorts: vec![] }
    }

    #[test]
    fn spring_pages_report_first_last_and_empty() {
        let p = SpringPage::new(vec![1, 2], &req(0, 2), 5);
        assert!(p.first && !p.last && p.total_pages == 3);
        let p = SpringPage::new(vec![5], &req(2, 2), 5);
        assert!(p.last && !p.first);
        let p: SpringPage<i32> = SpringPage::new(vec![], &req(0, 20), 0);
        assert!(p.last && p.first && p.empty && p.total_pages == 0);
        let p: SpringPage<i32> = SpringPage::new(vec![], &req(7, 20), 3);
        assert!(p.last, "a page past the end is last, so clients stop");
    }

    #[test]
    fn meta_info_pages_report_last_page() {
        let p = MetaInfoPage::new(vec![1; 20], &req(0, 20), 21);
        assert!(!p.meta_info.last_page);
        let p = MetaInfoPage::new(vec![1], &req(1, 20), 21);
        assert!(p.meta_info.last_page);
    }
}
