DROP TABLE activity_syncs;
