-- The cases projection replaces a case's department rows on every change (DELETE ... WHERE
-- case_id IN (...)); without this index each such delete scanned the whole table.
CREATE INDEX case_departments_by_case ON case_departments (case_id);
