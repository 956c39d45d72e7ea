"""The one error type of the quiz package."""


class QuizError(ValueError):
    """Something a person did or asked for cannot be done; the message says what and why.

    The UI shows ``str(error)`` as is, so every message is written for the participant
    or the quiz owner ("quiz 7KQ2XD is closed; ask your teacher to reopen it").
    """
