"""AI-written campaign copy: ``POST /campaigns/{id}/generate-content`` and the workspace's AI settings.

- ``config``: which OpenAI-compatible provider a workspace uses, and the SSRF rules for its own URL;
- ``prompts``: the JSON schema of the answer and the messages (the user's prompt only as data);
- ``network``: the HTTP transport under the provider's client: connects only to checked addresses (DNS
  rebinding) and never past the request's deadline;
- ``provider``: one Chat Completions call through the ``openai`` package, failures as data;
- ``validation``: our own checks of what the model wrote (lengths, placeholders, language, emoji);
- ``selectors``: reads (the settings row, quota status, template examples);
- ``services``: the quota, the generate workflow and settings updates (the only writers).
"""
