from collections import deque


class Snake:
    def __init__(self, start):
        self.body = deque([start])
        self.direction = (1, 0)
        self.alive = True
        self._grow = 0

    @property
    def head(self):
        return self.body[0]

    def turn(self, direction):
        if (direction[0] + self.direction[0], direction[1] + self.direction[1]) != (0, 0):
            self.direction = direction

    def grow(self, n=2):
        self._grow += n

    def step(self, cols, rows):
        x, y = self.head
        new = ((x + self.direction[0]) % cols, (y + self.direction[1]) % rows)
        if new in self.body:
            self.alive = False
            return
        self.body.appendleft(new)
        if self._grow:
            self._grow -= 1
        else:
            self.body.pop()
