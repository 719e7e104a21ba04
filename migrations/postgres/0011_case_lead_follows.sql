-- Issue 13: the cases projection now takes the lead and co-departments from the case's own
-- state, so a reassignment or a rerouting return moves the case in the view, the department
-- queues and handler visibility. Views written before kept the first dispatch's departments:
-- rebuild the projection from the log on the next start.
DELETE FROM case_view;
DELETE FROM case_departments;
DELETE FROM case_timers;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0, last_error = NULL
 WHERE name = 'cases';
