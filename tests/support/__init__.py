"""What the tests are built from: the Slack stand-in, the running bot, the databases."""
