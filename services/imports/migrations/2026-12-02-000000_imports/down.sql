DROP TABLE update_results;
DROP TABLE instance_links;
DROP TABLE imports;
DROP TABLE import_plans;
