"""Settings from `socialdesk.toml`, validated strictly, with errors that name file, line and key."""

from .base import ConfigError
from .example import example_text, write_example
from .loading import ENV_PREFIX, load_config, summary, user_config_file
from .models import (
    CHANNEL_KINDS,
    CONFIG_FILE_NAME,
    AgentConfig,
    AuditConfig,
    ChannelConfig,
    ChannelKind,
    Config,
    CredentialsConfig,
    DeskConfig,
    LogConfig,
    StoreConfig,
    TeamConfig,
    default_store_url,
)
from .rules import RulesConfig

__all__ = [
    "CHANNEL_KINDS", "CONFIG_FILE_NAME", "ENV_PREFIX", "AgentConfig", "AuditConfig", "ChannelConfig", "ChannelKind",
    "Config", "ConfigError", "CredentialsConfig", "DeskConfig", "LogConfig", "RulesConfig", "StoreConfig", "TeamConfig",
    "default_store_url", "example_text", "load_config", "summary", "user_config_file", "write_example",
]
