NOTES = []
