"""The one exception type the model layer raises for problems a user can fix."""


class AnatomyError(ValueError):
    """A problem with the user's input or choice, with a message fit to show them.

    `key` names the message in assets/strings so the UI can show it in the
    user's language; `params` fill its placeholders; `message` is the English
    text used over the API and in logs.
    """

    def __init__(self, message: str, key: str = "error.generic", **params: object):
        super().__init__(message)
        self.key = key
        self.params = params
