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

    def __reduce__(self):
        # Pickled whole (key and params too): on ZeroGPU it crosses from the GPU worker.
        return _rebuild, (type(self), str(self), self.key, self.params)


def _rebuild(cls: type, message: str, key: str, params: dict) -> AnatomyError:
    return cls(message, key, **params)
