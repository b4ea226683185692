DROP TABLE webhook_signatures;
