# Masks what changes from run to run in console transcripts.
s/[0-9][0-9]:[0-9][0-9]:[0-9][0-9]  [0-9]\{4\}\/[0-9]\{1,2\}\/[0-9]\{1,2\}/HH:MM:SS  YYYY\/M\/D/g
s/[A-Z][a-z][a-z] [0-9][0-9] [0-9]\{4\} [0-9][0-9]:[0-9][0-9]:[0-9][0-9]/MMM DD YYYY HH:MM:SS/g
s/%^%#[A-Za-z0-9+\/=]*%^%#/%^%#SEALED%^%#/g
