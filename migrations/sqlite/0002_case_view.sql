-- Projection `cases`: the current state of each enterprise case, for lists and filters.
CREATE TABLE case_view
(
    case_id         text PRIMARY KEY,
    list_order      integer NOT NULL UNIQUE,
    status          text   NOT NULL,
    enterprise_id   text   NOT NULL,
    lead_department text,
    category        text   NOT NULL,
    version         integer NOT NULL,
    document        text   NOT NULL
) STRICT;
CREATE INDEX case_view_by_status ON case_view (status, list_order);
CREATE INDEX case_view_by_enterprise ON case_view (enterprise_id, list_order);

-- Which departments (lead or co-department) a case involves: handler visibility and filters.
CREATE TABLE case_departments
(
    department_id text   NOT NULL,
    case_id       text   NOT NULL,
    list_order    integer NOT NULL,
    PRIMARY KEY (department_id, case_id)
) STRICT;
CREATE INDEX case_departments_order ON case_departments (department_id, list_order);
