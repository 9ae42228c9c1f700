DROP TABLE invalidations;
DROP TABLE session_versions;
DROP TABLE sessions;
