"""Snake, with a config file and high scores; run: python game.py"""

import random
import sys

import pygame

import config
import snake
from utils import clamp, load_highscores, save_highscores


def spawn_food(body):
    while True:
        pos = (random.randrange(config.COLS), random.randrange(config.ROWS))
        if pos not in body:
            return pos


def main():
    pygame.init()
    screen = pygame.display.set_mode((config.COLS * config.CELL, config.ROWS * config.CELL))
    clock = pygame.time.Clock()
    player = snake.Snake((config.COLS // 2, config.ROWS // 2))
    food = spawn_food(player.body)
    scores = load_highscores(config.SCORES_FILE)
    while player.alive:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                sys.exit()
            if event.type == pygame.KEYDOWN and event.key in config.KEYS:
                player.turn(config.KEYS[event.key])
        player.step(config.COLS, config.ROWS)
        if player.head == food:
            player.grow()
            food = spawn_food(player.body)
        screen.fill(config.BACKGROUND)
        for x, y in player.body:
            pygame.draw.rect(screen, config.SNAKE, (x * config.CELL, y * config.CELL, config.CELL, config.CELL))
        pygame.draw.rect(screen, config.FOOD, (food[0] * config.CELL, food[1] * config.CELL, config.CELL, config.CELL))
        pygame.display.flip()
        clock.tick(clamp(8 + len(player.body) // 4, 8, 25))
    save_highscores(config.SCORES_FILE, scores + [len(player.body)])


if __name__ == "__main__":
    main()
