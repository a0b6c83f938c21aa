DROP TABLE embed_renders;
DROP TABLE embeds;
