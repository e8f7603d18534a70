"""Install a plugin bundle into a running Mattermost server, as ``make deploy`` and mmctl do."""

from mmplugin.deploy.server import DeployError, ServerClient, connect

__all__ = ["DeployError", "ServerClient", "connect"]
