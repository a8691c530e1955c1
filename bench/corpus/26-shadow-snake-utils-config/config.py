import pygame

COLS, ROWS, CELL = 32, 24, 20
BACKGROUND, SNAKE, FOOD = (18, 18, 18), (80, 200, 120), (230, 70, 70)
SCORES_FILE = "highscores.json"
KEYS = {pygame.K_UP: (0, -1), pygame.K_DOWN: (0, 1), pygame.K_LEFT: (-1, 0), pygame.K_RIGHT: (1, 0)}
