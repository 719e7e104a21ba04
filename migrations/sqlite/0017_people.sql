-- Issue 17: projection `people`, the people directory (one row per listed person, the `sub`
-- of their tokens), folded from the `Person` stream. Notifications resolve recipients here.
-- The contact record (e-mail, mobile) is only in the document; the API logs every read of it.
-- `roles` holds the role names between commas (',department_head,expert,') for a LIKE filter.
CREATE TABLE people
(
    sub          text PRIMARY KEY,
    list_order   integer NOT NULL UNIQUE,
    organisation text,
    active       integer NOT NULL,
    roles        text    NOT NULL,
    version      integer NOT NULL,
    document     text    NOT NULL
) STRICT;
CREATE INDEX people_by_organisation ON people (organisation, list_order);
