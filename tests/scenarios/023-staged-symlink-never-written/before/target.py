SECRET = 'do not touch'
