"""The one refusal type of the cameras app; the API and the portal turn it into messages."""


class CameraRefusal(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
